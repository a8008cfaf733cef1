"""kernel_subresources: a plugin adds a POST subresource to a resource another plugin serves.

The plugin here is a real third-party distribution (a module and a ``.dist-info`` with its entry
point on the ``kernel`` subprocess's PYTHONPATH) adding ``configmaps/<name>/echo`` to api_core's
ConfigMaps; discovery, OpenAPI, admission and the request path treat it as ConfigMap's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import plugin_env, run_kernel

from kernel.testing import start_kernel

CORE = "--plugins=api_core,storage_memory"

PLUGIN = '''
from kernel import hookimpl
from kernel.registry.subresources import CustomSubresource


async def echo(call):
    reply = call.copy_body()
    reply["data"] = {"seen": f"{call.namespace}/{call.name}", "user": call.user.name,
                     "exists": str(bool(await call.store.get(call.namespace, call.name)))}
    return reply


def factory(context):
    from kernel_api_core.types import CORE_V1

    return CustomSubresource(group="", version="v1", kind="ConfigMap", handler=echo,
                             **CORE_V1.spec_fields("ConfigMap"))


@hookimpl
def kernel_subresources():
    return {KEY: factory}
'''


def _plugin(root: Path, name: str, key: str) -> None:
    (root / f"{name}.py").write_text(PLUGIN + f"\nKEY = {key!r}\n")
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[kernel.plugins]\n{name} = {name}\n")


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    return root


def test_the_subresource_is_served_and_discovered_as_the_resources_own(plugins_dir, tmp_path):
    _plugin(plugins_dir, "echoer", "configmaps/echo")
    kernel = start_kernel(tmp_path / "k", CORE + ",echoer", env=plugin_env(str(plugins_dir)))
    try:
        with kernel.client() as client:
            resources = {r["name"]: r for r in client.get("/api/v1").json()["resources"]}
            assert resources["configmaps/echo"] == {
                "name": "configmaps/echo", "singularName": "", "namespaced": True,
                "kind": "ConfigMap", "verbs": ["create"]}
            paths = client.get("/openapi/v3/api/v1").json()["paths"]
            assert "/api/v1/namespaces/{namespace}/configmaps/{name}/echo" in paths
            assert client.post("/api/v1/namespaces/default/configmaps", json={
                "metadata": {"name": "c"}}).status_code == 201
            response = client.post("/api/v1/namespaces/default/configmaps/c/echo", json={
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
            assert response.status_code == 201, response.text
            assert response.json()["data"] == {"seen": "default/c", "user": "system:apiserver",
                                               "exists": "True"}
            assert client.get("/api/v1/namespaces/default/configmaps/c/echo").status_code == 405
            missing = client.post("/api/v1/namespaces/default/configmaps/nope/echo", json={
                "apiVersion": "v1", "kind": "ConfigMap"})
            assert (missing.status_code, missing.json()["message"]) == (
                404, 'configmaps "nope" not found')
    finally:
        kernel.stop()


@pytest.mark.parametrize("key, error", [
    ("widgets.example.com/echo", "kernel_subresources: no selected plugin serves the resource of "
                                 "widgets.example.com/echo"),
    ("pods/status", "kernel_subresources: pods already has the subresource status"),
    ("pods/binding", "kernel_subresources: pods already has the subresource binding"),
    ("configmaps", "kernel_subresources: 'configmaps' is not <resource>[.<group>]/<subresource>"),
])
def test_a_subresource_that_cannot_be_attached_fails_startup(plugins_dir, tmp_path, key, error):
    _plugin(plugins_dir, "echoer", key)
    result = run_kernel("serve", "--secure-port=0", f"--cert-dir={tmp_path / 'certs'}",
                        CORE + ",echoer", env=plugin_env(str(plugins_dir)))
    assert result.returncode == 1
    assert f"Error: {error}" in result.stderr, result.stderr[-2000:]
    assert "Serving securely" not in result.stderr and "Traceback" not in result.stderr
