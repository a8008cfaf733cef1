"""docs/plugins.md's example plugin works as written: the blocks headed ``# pyproject.toml`` and
``# kernel_guide_example.py``, pip-installed into a directory of their own, make a plugin whose
post-start hooks (informers, the loopback client), admission plugin and route a real ``kernel serve`` runs."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import plugin_env

GUIDE = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()


def wait_for_log(kernel, text: str, timeout: float = 30) -> None:
    """Handlers run in the informer's own task, after the write returned: poll the log for them
    (a generous bound for a loaded machine, not a speed assertion)."""
    deadline = time.monotonic() + timeout
    while text not in kernel.log():
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{kernel.log()}"
        time.sleep(0.05)


def guide_files() -> dict[str, str]:
    """Blocks whose first line is ``# <file name>``; a module's blocks are joined in page order."""
    files: dict[str, str] = {}
    for block in re.findall(r"```(?:toml|python)\n(.*?)```", GUIDE, re.S):
        first, _, rest = block.partition("\n")
        if first.startswith("# ") and "." in first:
            name = first[2:].strip()
            files[name] = files.get(name, "") + rest + "\n\n"
    return files


@pytest.fixture(scope="module")
def guide_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    source, target = tmp_path_factory.mktemp("guide-plugin"), tmp_path_factory.mktemp("site")
    files = guide_files()
    assert set(files) == {"pyproject.toml", "kernel_guide_example.py"}
    for name, text in files.items():
        (source / name).write_text(text)
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    return str(target)


def test_the_guide_plugin_serves_its_hooks(kernel_process, guide_plugin_path):
    kernel = kernel_process("--plugins=api_core,storage_memory,guide_example",
                            env=plugin_env(guide_plugin_path))
    with kernel.client() as client:
        # The post-start hook created its namespace through the loopback client before /readyz.
        namespace = client.get("/api/v1/namespaces/guide-system")
        assert namespace.status_code == 200, namespace.text
        # The admission plugin refuses with kube's 403 and lets the rest through.
        path = "/api/v1/namespaces/default/configmaps"
        refused = client.post(path, json={"metadata": {"name": "db"}, "data": {"DB_PASSWORD": "x"}})
        assert refused.status_code == 403, refused.text
        assert refused.json()["message"] == 'configmaps "db" is forbidden: put passwords in a Secret'
        assert client.get(f"{path}/db").status_code == 404
        allowed = client.post(path, json={"metadata": {"name": "db"}, "data": {"DB_HOST": "x"}})
        assert allowed.status_code == 201, allowed.text
        # The informer's handler saw the delete; the report hook read the informer's store.
        assert client.delete(f"{path}/db").status_code == 200
    wait_for_log(kernel, "configmap db deleted")
    assert "namespaces at start" in kernel.log()
    with kernel.client() as client:
        # The route is mounted under its prefix.
        hello = client.get("/hello")
        assert (hello.status_code, hello.text) == (200, "hello\n")
