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
    """Built once per test run, pytest-xdist workers included (it takes a while)."""
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


def _build_outputs(tree: Path) -> dict[str, int]:
    """What building ``tree`` in place would write or change: its build/, dist/ and *.egg-info."""
    found = {}
    for entry in tree.iterdir():
        if entry.name in ("build", "dist") or entry.name.endswith(".egg-info"):
            for path in [entry, *entry.rglob("*")]:
                found[str(path)] = path.stat().st_mtime_ns
    return found


def test_two_bundles_of_one_checkout_build_at_once_and_leave_it_as_it_was(tmp_path: Path) -> None:
    # pip builds a local project where it finds it: kernel bundle hands it copies, so two builds
    # at once (two terminals, two CI jobs) do not share a build/ and the checkout is not written.
    from kernel.bundle import requirements
    plugins = ["api_core", storage_plugin()]
    trees = [Path(item) for item in requirements(plugins) if Path(item).is_dir()]
    assert trees, "the kernel and its plugins are installed from source trees here"
    before = {tree: (sorted(os.listdir(tree)), _build_outputs(tree)) for tree in trees}
    builds = [subprocess.Popen([KERNEL, "bundle", "-o", str(tmp_path / f"kernel-{i}.pyz"),
                                f"--plugins={','.join(plugins)}"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for i in range(2)]
    for build in builds:
        output, _ = build.communicate(timeout=300)
        assert build.returncode == 0, output
    for i in range(2):
        listed = subprocess.run([SYSTEM_PYTHON, "-m", "zipfile", "-l", str(tmp_path / f"kernel-{i}.pyz")],
                                capture_output=True, text=True, check=True).stdout
        assert "kernel/cli.py" in listed
    assert {tree: (sorted(os.listdir(tree)), _build_outputs(tree)) for tree in trees} == before
