"""API aggregation with two real processes: a second ``kernel serve`` (the wardle test group and
authn_requestheader) registered with an APIService on the first, reached through it by kubectl
and httpx; the second sees the original user through the front-proxy headers."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.testing import KUBECTL, KernelProcess, install_into, start_kernel
from kernel_authn_x509.testing import CertificateAuthority

ROOT = Path(__file__).resolve().parents[2]
WARDLE = ROOT / "plugins" / "api_apiregistration" / "tests" / "fixtures" / "kernel-test-wardle"
GROUP, VERSION = "wardle.example.com", "v1alpha1"
APISERVICE = f"{VERSION}.{GROUP}"
FLUNDERS = f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders"
DEADLINE = 30.0


@pytest.fixture(scope="module")
def wardle_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The wardle fixture plugin installed into a directory of its own, for the backend only."""
    target = tmp_path_factory.mktemp("wardle")
    install_into(WARDLE, target)
    return str(target)


def _poll(what: str, probe, deadline: float = DEADLINE):
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _available(front: KernelProcess) -> str:
    obj = front.kubectl_json("get", "apiservice", APISERVICE)
    return next((c["status"] for c in obj.get("status", {}).get("conditions", [])
                 if c["type"] == "Available"), "")


@pytest.fixture
def pair(tmp_path: Path, wardle_path: str) -> Iterator[tuple[KernelProcess, KernelProcess]]:
    """(front, backend): the backend trusts the front's proxy client certificate."""
    ca = CertificateAuthority("front-proxy-ca")
    (tmp_path / "front-proxy-ca.crt").write_bytes(ca.cert_pem)
    cert, key = ca.issue("front-proxy-client").write(tmp_path, "front-proxy-client")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [wardle_path, os.environ.get("PYTHONPATH")]))}
    backend = start_kernel(tmp_path / "backend", "--plugins=storage_memory,authn_requestheader,test_wardle",
                           "--authorization-mode=AlwaysAllow", "--anonymous-auth=false",
                           f"--requestheader-client-ca-file={tmp_path / 'front-proxy-ca.crt'}",
                           "--requestheader-allowed-names=front-proxy-client", env=env)
    front = None
    try:
        front = start_kernel(tmp_path / "front", f"--proxy-client-cert-file={cert}",
                             f"--proxy-client-key-file={key}")
        port = backend.url.rsplit(":", 1)[1]
        manifests = [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "wardle", "namespace": "default"},
             "spec": {"type": "ExternalName", "externalName": "localhost"}},
            {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": APISERVICE},
             "spec": {"group": GROUP, "version": VERSION, "groupPriorityMinimum": 1000, "versionPriority": 15,
                      "service": {"namespace": "default", "name": "wardle", "port": int(port)},
                      "caBundle": base64.b64encode(Path(backend.ca_file).read_bytes()).decode()}}]
        for manifest in manifests:
            front.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        _poll("the APIService to be available", lambda: _available(front) == "True")
        yield front, backend
    finally:
        if front is not None:
            front.stop()
        backend.stop()


def _flunder(name: str) -> str:
    return json.dumps({"apiVersion": f"{GROUP}/{VERSION}", "kind": "Flunder",
                       "metadata": {"name": name, "namespace": "default"}, "spec": {"color": "teal"}})


def test_kubectl_gets_lists_and_watches_through_the_front(pair) -> None:
    front, backend = pair
    # kubectl validates against the backend's OpenAPI v3 (merged into the front's index).
    front.kubectl("create", "-f", "-", input=_flunder("one"))
    assert "KIND:       Flunder" in front.kubectl("explain", "flunders").stdout
    bogus = front.kubectl("create", "-f", "-", check=False,
                          input=json.dumps({**json.loads(_flunder("bad")), "bogus": 1}))
    assert bogus.returncode != 0 and 'unknown field "bogus"' in bogus.stderr, bogus.stderr
    assert front.kubectl_json("get", "flunder", "one")["spec"] == {"color": "teal"}
    names = [i["metadata"]["name"] for i in front.kubectl_json("get", "flunders")["items"]]
    assert names == ["one"]
    watch = subprocess.Popen([KUBECTL, "--kubeconfig", front.kubeconfig, "get", "flunders", "--watch",
                              "-o", "name", "--request-timeout=30s"],  # never hangs the test
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=front.kubectl_env)
    try:
        assert watch.stdout.readline().strip() == "flunder.wardle.example.com/one"
        front.kubectl("create", "--validate=false", "-f", "-", input=_flunder("two"))
        assert watch.stdout.readline().strip() == "flunder.wardle.example.com/two"
    finally:
        watch.kill()
        watch.wait()


def test_the_backend_sees_the_original_user(pair) -> None:
    front, _ = pair
    # The front authorizes the user (RBAC) before it proxies: grant jane's group the review.
    front.kubectl("create", "clusterrole", "wardle-whoami", "--verb=create", f"--resource=whoamis.{GROUP}")
    front.kubectl("create", "clusterrolebinding", "wardle-whoami", "--clusterrole=wardle-whoami",
                  "--group=wardle-devs")
    _poll("the grant to reach the authorizer", lambda: front.kubectl(
        "auth", "can-i", "create", f"whoamis.{GROUP}", "--as=jane", "--as-group=wardle-devs",
        check=False).stdout.strip() == "yes")
    review = json.dumps({"apiVersion": f"{GROUP}/{VERSION}", "kind": "WhoAmI", "metadata": {}})
    seen = json.loads(front.kubectl("create", "--validate=false", "-f", "-", "-o", "json", "--as=jane",
                                    "--as-group=wardle-devs", input=review).stdout)["status"]
    assert seen["username"] == "jane"
    assert set(seen["groups"]) == {"wardle-devs", "system:authenticated"}
    # Extra keys travel percent-encoded and arrive as they were.
    with front.client() as client:
        response = client.post(f"/apis/{GROUP}/{VERSION}/whoamis", content=review, headers={
            "Content-Type": "application/json", "Impersonate-User": "jane",
            "Impersonate-Group": "wardle-devs", "Impersonate-Extra-Example.com%2FTeam": "blue",
            "X-Remote-User": "mallory"})
        assert response.status_code == 201, response.text
        seen = response.json()["status"]
    assert seen["username"] == "jane"
    assert seen["extra"] == {"example.com/team": ["blue"]}


def test_discovery_merges_the_remote_group(pair) -> None:
    front, _ = pair
    with front.client() as client:
        groups = {g["name"]: g for g in client.get("/apis").json()["groups"]}
        assert groups[GROUP]["versions"] == [{"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}]
        assert "apps" in groups
        assert client.get(f"/apis/{GROUP}").json()["preferredVersion"]["version"] == VERSION
        aggregated = client.get("/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;"
                                                  "v=v2;as=APIGroupDiscoveryList"}).json()
        item = next(i for i in aggregated["items"] if i["metadata"]["name"] == GROUP)
        assert {r["resource"] for r in item["versions"][0]["resources"]} == {"flunders", "whoamis"}
    resources = front.kubectl("api-resources", f"--api-group={GROUP}", "-o", "name").stdout.split()
    assert sorted(resources) == ["flunders.wardle.example.com", "whoamis.wardle.example.com"]


def test_stopping_the_backend_makes_it_unavailable_and_503(pair) -> None:
    front, backend = pair
    backend.stop()
    _poll("the APIService to turn unavailable", lambda: _available(front) == "False")
    condition = next(c for c in front.kubectl_json("get", "apiservice", APISERVICE)["status"]["conditions"]
                     if c["type"] == "Available")
    assert condition["reason"] == "FailedDiscoveryCheck", condition
    with front.client() as client:
        response = client.get(FLUNDERS)
        assert response.status_code == 503
        assert response.json()["reason"] == "ServiceUnavailable"
        assert GROUP not in {g["name"] for g in client.get("/apis").json()["groups"]}


def test_local_apiservices_are_available(pair) -> None:
    front, _ = pair
    local = {i["metadata"]["name"]: i for i in front.kubectl_json("get", "apiservices")["items"]}
    assert {"v1.", "v1.apps", "v1.apiregistration.k8s.io"} <= set(local)
    for name in ("v1.", "v1.apps"):
        assert "service" not in local[name]["spec"]
        _poll(f"{name} available", lambda: _condition(front, name) == ("True", "Local"))


def _condition(front: KernelProcess, name: str) -> tuple[str, str]:
    obj = front.kubectl_json("get", "apiservice", name)
    return next(((c["status"], c["reason"]) for c in obj.get("status", {}).get("conditions", [])
                 if c["type"] == "Available"), ("", ""))
