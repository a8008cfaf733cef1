"""``kernel bundle``: a single-file artifact that serves kubectl from a bare system Python.

The bundle is built once per session (about 10 s) and run from a fresh directory with the system
``python3`` in an emptied environment: no venv, no PYTHONPATH, a new HOME (shiv's extraction
cache), and a working directory outside the repository, so nothing can come from the venv.
"""

from __future__ import annotations

import fcntl
import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.testing import start_kernel

KERNEL = str(Path(sys.executable).with_name("kernel"))
SYSTEM_PYTHON = "/usr/bin/python3"


def storage_plugin() -> str:
    names = {ep.name for ep in metadata.entry_points(group="kernel.plugins")}
    return "storage_sqlite" if "storage_sqlite" in names else "storage_memory"


def _build(output: Path) -> None:
    result = subprocess.run([KERNEL, "bundle", "-o", str(output), f"--plugins=api_core,{storage_plugin()}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"wrote {output}" in result.stdout


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per test run, pytest-xdist workers included: ``kernel bundle`` builds the local
    source trees in place, and two workers building at once would share their ``build/``."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        output = tmp_path_factory.mktemp("build") / "kernel.pyz"
        _build(output)
        return output
    shared = tmp_path_factory.getbasetemp().parent  # this run's directory, the same for every worker
    output = shared / "kernel.pyz"
    with open(shared / "kernel.pyz.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not output.exists():
            _build(output)
    return output


@pytest.fixture
def edge(bundle: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """The bundle copied to a fresh directory, and the bare environment that runs it."""
    machine = tmp_path / "edge"
    machine.mkdir()
    shutil.copy(bundle, machine / "kernel.pyz")
    home = machine / "home"
    home.mkdir()
    return machine, ["env", "-i", f"--chdir={machine}", "PATH=/usr/bin:/bin", f"HOME={home}"]


def test_bundle_holds_only_the_named_plugins(edge: tuple[Path, list[str]]) -> None:
    machine, bare = edge
    result = subprocess.run([*bare, SYSTEM_PYTHON, "kernel.pyz", "plugins"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if "(plugin;" in line}
    # the named plugins and the plugins their distributions require (storage_sqlite builds on
    # storage_memory's store), nothing else
    required = {"storage_memory"} if storage_plugin() == "storage_sqlite" else set()
    assert listed == {"api_core", storage_plugin(), *required}
    # shiv extracted the site-packages (compiled wheels included) under the new HOME
    (site,) = (machine / "home" / ".shiv").glob("kernel.pyz_*/site-packages")
    assert (site / "kernel" / "cli.py").is_file() and list(site.glob("msgspec/_core*.so"))


def test_bundle_serves_kubectl_from_system_python(edge: tuple[Path, list[str]]) -> None:
    machine, bare = edge
    kernel = start_kernel(machine / "run", f"--plugins=api_core,{storage_plugin()}",
                          command_prefix=bare, command=(SYSTEM_PYTHON, str(machine / "kernel.pyz")))
    try:
        assert "default" in kernel.kubectl("get", "ns", "-o", "name").stdout
        kernel.kubectl("create", "configmap", "edge", "--from-literal=site=north")
        assert kernel.kubectl_json("get", "configmap", "edge")["data"] == {"site": "north"}
        process = Path(f"/proc/{kernel.process.pid}")
        assert process.joinpath("exe").resolve() == Path(SYSTEM_PYTHON).resolve()
        environ = process.joinpath("environ").read_bytes().split(b"\0")
        assert sorted(v.split(b"=")[0] for v in environ if v) == [b"HOME", b"PATH"]
    finally:
        assert kernel.stop() == 0


def test_unknown_plugin_is_an_error(tmp_path: Path) -> None:
    result = subprocess.run([KERNEL, "bundle", "-o", str(tmp_path / "k.pyz"), "--plugins=api_core,nope"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: unknown plugins nope; installed: ")
    assert not (tmp_path / "k.pyz").exists()
