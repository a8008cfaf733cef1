"""kernel_routes: plugins' non-resource routes, behind the filters, with prefixes checked at startup.

The plugins here are real third-party distributions: a module and a ``.dist-info`` with its entry
point, written to a directory on the ``kernel`` subprocess's PYTHONPATH.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import plugin_env, run_kernel

from kernel.server.routes import RESERVED

CORE = "--plugins=api_core,storage_memory"

# An ASGI app (no Quart: the hook takes any) that echoes what it was given.
ECHO = '''
import json
from kernel import hookimpl

async def echo(scope, receive, send):
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status = 404 if scope["path"].endswith("/missing") else 200
    answer = json.dumps({"path": scope["path"], "root_path": scope["root_path"],
                         "method": scope["method"], "body": body.decode()}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": answer})

@hookimpl
def kernel_routes(context):
    return PREFIXES
'''


def _plugin(root: Path, name: str, prefixes: list[str]) -> None:
    """Write plugin ``name`` serving the echo app under each of ``prefixes``."""
    (root / f"{name}.py").write_text(ECHO + f"\nPREFIXES = [(p, echo) for p in {prefixes!r}]\n")
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[kernel.plugins]\n{name} = {name}\n")


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    return root


def test_a_plugins_app_is_served_under_its_prefix_behind_the_filters(kernel_process, plugins_dir):
    _plugin(plugins_dir, "echoroutes", ["/echo"])
    kernel = kernel_process("-v=2", "--authorization-mode=AlwaysDeny",
                            "--token-auth-file=" + str(_tokens(plugins_dir)),
                            "--plugins=api_core,storage_memory,authn_token,echoroutes",
                            env=plugin_env(str(plugins_dir)))
    with kernel.client() as admin:
        response = admin.put("/echo/a/b?x=1", content=b"hello")
        assert response.status_code == 200
        assert response.json() == {"path": "/echo/a/b", "root_path": "/echo", "method": "PUT",
                                   "body": "hello"}
        assert admin.get("/echo").json()["path"] == "/echo"
        assert response.headers["audit-id"]  # the filters ran around it
        assert admin.get("/echoes").status_code == 404  # a prefix is a path segment, not a string
        assert admin.get("/echo/missing").status_code == 404
        metrics = admin.get("/metrics").text
    with kernel.client(token="jane-token") as jane:  # authenticated, not in system:masters
        response = jane.put("/echo/a", content=b"x")
        assert response.status_code == 403
        assert response.json()["message"] == (
            'forbidden: User "jane" cannot put path "/echo/a": Everything is forbidden.')
    with kernel.client(token=None) as anonymous:
        assert anonymous.get("/echo").status_code == 403
    with kernel.client(token="not-a-token") as stranger:
        assert stranger.get("/echo").status_code == 401
    assert kernel.stop() == 0
    log = kernel.log()
    assert "plugin routes: /echo" in log
    assert 'URI="/echo/a/b?x=1"' in log and 'user="system:apiserver"' in log
    assert 'URI="/echo/a" ' in log and 'resp=403' in log
    # Served requests are counted; a path the app does not serve is not (no label per made-up path).
    assert 'subresource="/echo/a/b"' in metrics
    assert "/echo/missing" not in metrics


def _tokens(root: Path) -> Path:
    path = root / "tokens.csv"
    path.write_text("jane-token,jane,uid-jane\n")
    return path


@pytest.mark.parametrize("prefix", [*RESERVED, "/apis/apps", "/healthz/ping", "/openapi/v2", "/"])
def test_a_prefix_colliding_with_the_kernels_paths_is_refused(plugins_dir, tmp_path, prefix):
    _plugin(plugins_dir, "clash", [prefix])
    result = run_kernel("serve", "--secure-port=0", f"--cert-dir={tmp_path / 'certs'}",
                        CORE + ",clash", env=plugin_env(str(plugins_dir)))
    assert result.returncode == 1
    if prefix == "/":
        assert "Error: kernel_routes: plugin clash: prefix '/' must be an absolute path" in result.stderr
    else:
        assert f"Error: kernel_routes: plugin clash: prefix {prefix} collides with the kernel's " \
            in result.stderr
    assert "Serving securely" not in result.stderr and "Traceback" not in result.stderr


def test_prefixes_of_two_plugins_must_not_overlap(plugins_dir, tmp_path):
    _plugin(plugins_dir, "first", ["/tools"])
    _plugin(plugins_dir, "second", ["/tools/more"])
    result = run_kernel("serve", "--secure-port=0", f"--cert-dir={tmp_path / 'certs'}",
                        CORE + ",first,second", env=plugin_env(str(plugins_dir)))
    assert result.returncode == 1
    assert ("Error: kernel_routes: plugin second: prefix /tools/more collides with /tools of "
            "plugin first") in result.stderr


@pytest.mark.parametrize("plugins, routes", [(CORE, "[]"), (CORE + ",debug", "['/debug']")])
def test_quart_is_not_imported_by_assembling_a_server(tmp_path, plugins, routes):
    """Not even with the debug plugin's routes mounted: its Quart app is built by the first
    request under /debug (tests/test_imports_on_demand.py)."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from kernel.testing import assemble
        server = assemble(Path({str(tmp_path)!r}), {plugins!r})
        print([prefix for prefix, _ in server.routes], "quart" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{routes} False"


BLUEPRINT = '''
from quart import Blueprint, request
from kernel import hookimpl

tools = Blueprint("tools", __name__)

@tools.route("/hello/<name>")
async def hello(name):
    return f"hello {name} from {request.root_path}"

@hookimpl
def kernel_routes(context):
    return {"/tools": tools}
'''


def test_a_quart_blueprint_is_mounted_in_an_app_of_its_own(kernel_process, plugins_dir):
    (plugins_dir / "bp.py").write_text(BLUEPRINT)
    info = plugins_dir / "bp-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bp\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[kernel.plugins]\nbp = bp\n")
    kernel = kernel_process(CORE + ",bp", env=plugin_env(str(plugins_dir)))
    assert kernel.kubectl("get", "--raw", "/tools/hello/jane").stdout == "hello jane from /tools"
