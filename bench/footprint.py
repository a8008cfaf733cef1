"""Edge footprint of three builds, each in its own fresh venv: idle RSS, installed size, import
time and startup time; then RSS per stored 1 KiB configmap on top of the object's own JSON.

Builds:
  trimmed  the kernel, api_core, storage_sqlite (storage_memory until that plugin exists),
           authn_x509, authz_rbac
  default  what the quickstart serves (scripts/serve loads every installed plugin) less the
           developer tools: every plugin under plugins/ but debug (Quart) and pytest_kernel
  all      every plugin under plugins/

The local distributions are built once into a wheelhouse (non-editable, so installed size is
real); dependencies come from the configured package index. Installed size is site-packages less
pip and setuptools (bytecode pip compiled included); "no .pyc" the same less the bytecode;
"edge" the size of a ``pip install --no-compile`` venv after the server's first start, which
writes bytecode only for the modules it imports. Import time is the median of ``import
kernel.cli`` and the selected plugins' modules in a new interpreter; startup time the median of
spawn → /readyz 200 (certificates already generated); idle RSS is VmRSS a few seconds after ready.
Per-object RSS: on the trimmed build, (RSS after N creates − RSS before, taken after one create
that loads what the first HTTP/2 connection and write import) / N − the object's JSON
size, at each ``--objects`` count (a new server each).

    python bench/footprint.py [--builds trimmed,default,all] [--objects 10000,100000]
                              [--storage-backend memory|sqlite] [--runs 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import httpx
import trio

from kernel.testing import start_kernel

ROOT = Path(__file__).resolve().parent.parent
# The trimmed build's plugins: the edge control plane of issue 17.
TRIMMED = ("api_core", "storage_sqlite", "authn_x509", "authz_rbac")
FALLBACK = {"storage_sqlite": "storage_memory"}  # until plugins/storage_sqlite exists
DEV_TOOLS = ("debug", "pytest_kernel")
EXCLUDED_FROM_SIZE = ("pip", "setuptools", "_distutils_hack", "pkg_resources", "distutils-precedence.pth")
IDLE_SECONDS = 3.0
MB = 1 << 20


def plugin_dirs(names: list[str]) -> list[Path]:
    return [ROOT / "plugins" / name for name in names]


def available(name: str) -> str:
    if (ROOT / "plugins" / name / "pyproject.toml").exists():
        return name
    fallback = FALLBACK.get(name)
    if fallback is None:
        raise SystemExit(f"plugins/{name} does not exist")
    print(f"note: plugins/{name} is not there; the trimmed build uses {fallback}", file=sys.stderr)
    return fallback


def builds() -> dict[str, list[str]]:
    every = sorted(p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml"))
    return {
        "trimmed": [available(name) for name in TRIMMED],
        "default": [name for name in every if name not in DEV_TOOLS],
        "all": every,
    }


def build_wheels(wheelhouse: Path, directories: list[Path]) -> dict[Path, Path]:
    """Each local distribution's wheel, built once with this environment's setuptools."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    wheels: dict[Path, Path] = {}
    for directory in directories:
        out = wheelhouse / directory.name
        if not out.exists():
            fresh = not (directory / "build").exists()
            subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "--no-build-isolation", "--disable-pip-version-check", "-w", str(out),
                            str(directory)], check=True)
            if fresh:  # pip builds in the source tree: leave it as it was
                shutil.rmtree(directory / "build", ignore_errors=True)
        wheels[directory] = next(out.glob("*.whl"))
    return wheels


def make_venv(venv: Path, wheels: list[Path], wheelhouse: Path, compile: bool = True) -> None:
    """A fresh venv with these wheels; a plugin's plugin dependencies (authz_rbac's api_rbac)
    come from the wheelhouse, the rest from the package index. ``compile=False``: no bytecode
    at install (``pip install --no-compile``)."""
    if (venv / "bin" / "kernel").exists():
        return
    base_python = Path(sys.base_prefix) / "bin" / "python3"  # not this venv's
    subprocess.run([str(base_python), "-m", "venv", str(venv)], check=True)
    links = [f"--find-links={d}" for d in sorted(wheelhouse.iterdir())]
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", *([] if compile else ["--no-compile"]),
                    *links, *map(str, wheels)], check=True)


def installed_size(venv: Path) -> tuple[int, int]:
    """site-packages less pip and setuptools: with the bytecode pip compiled, and without it
    (``pip install --no-compile``, for a read-only edge image)."""
    (site,) = venv.glob("lib/python3*/site-packages")
    total = bytecode = 0
    for entry in site.iterdir():
        if entry.name.split("-")[0] in EXCLUDED_FROM_SIZE or entry.name in EXCLUDED_FROM_SIZE:
            continue
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        total += sum(p.stat().st_size for p in files)
        bytecode += sum(p.stat().st_size for p in files if p.suffix == ".pyc")
    return total, total - bytecode


def edge_installed_size(venv: Path, workdir: Path, backend: str) -> int:
    """The edge install: ``pip install --no-compile``, then one start and stop of the server,
    which writes bytecode only for the modules serving imports (what an image built that way
    holds once it has run). A first start: it generates its certificates too (and so imports
    cryptography). Measured like ``installed_size``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start_kernel(workdir / "edge", *serve_args(backend), cert_dir=workdir / "edge-certs",
                 command=(str(venv / "bin" / "kernel"),), env=env).stop()
    return installed_size(venv)[0]


IMPORT_TIMER = """
import importlib.metadata, sys, time
start = time.perf_counter()
import kernel.cli
for ep in importlib.metadata.entry_points(group="kernel.plugins"):
    ep.load()
print(time.perf_counter() - start)
"""


def import_time(venv: Path, runs: int) -> float:
    """``import kernel.cli`` and every installed plugin's module, as ``kernel serve`` does."""
    # -P: not the working directory first on sys.path (run from a checkout, `-c` imported its
    # kernel package instead of the venv's).
    times = [float(subprocess.run([str(venv / "bin" / "python"), "-P", "-c", IMPORT_TIMER],
                                  check=True, capture_output=True, text=True).stdout)
             for _ in range(runs)]
    return statistics.median(times)


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def serve_args(backend: str) -> list[str]:
    """No --plugins: the build is what the venv holds, and kernel serve loads all of it."""
    return [f"--storage-backend={backend}"]


def startup_and_rss(venv: Path, workdir: Path, backend: str, runs: int) -> tuple[float, int]:
    command = (str(venv / "bin" / "kernel"),)
    certs = workdir / "certs"
    start_kernel(workdir / "warmup", *serve_args(backend), cert_dir=certs,
                 command=command).stop()  # generates the certificates and the bytecode caches
    times, idle = [], []
    for run in range(runs):
        shutil.rmtree(workdir / f"run{run}", ignore_errors=True)  # a first start, with a --workdir too
        began = time.monotonic()
        kernel = start_kernel(workdir / f"run{run}", *serve_args(backend), cert_dir=certs,
                              command=command)
        times.append(time.monotonic() - began)
        time.sleep(IDLE_SECONDS)
        idle.append(rss(kernel.process.pid))
        kernel.stop()
    return statistics.median(times), int(statistics.median(idle))


def configmap(index: int) -> dict:
    # 1 KiB of data, as an edge device's small configs are
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"cm-{index:06d}", "namespace": "default"},
            "data": {"config": f"{index:06d}".ljust(1024, "x")}}


async def create_many(url: str, token: str, ca_file: str, count: int, concurrency: int = 16,
                      start: int = 0) -> int:
    """Create ``count`` configmaps (numbered from ``start``); returns one stored object's JSON size."""
    import ssl

    context = ssl.create_default_context(cafile=ca_file)
    size = 0
    async with httpx.AsyncClient(base_url=url, http2=True, verify=context, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        next_index = iter(range(start, start + count))

        async def worker() -> None:
            nonlocal size
            for index in next_index:
                response = await client.post("/api/v1/namespaces/default/configmaps",
                                             json=configmap(index))
                response.raise_for_status()
                if index == start:
                    size = len(json.dumps(response.json(), separators=(",", ":")))

        async with trio.open_nursery() as nursery:
            for _ in range(concurrency):
                nursery.start_soon(worker)
    return size


def per_object(venv: Path, workdir: Path, backend: str, count: int) -> dict:
    shutil.rmtree(workdir / f"objects{count}", ignore_errors=True)  # no objects of a --workdir's last run
    kernel = start_kernel(workdir / f"objects{count}", *serve_args(backend),
                          cert_dir=workdir / "certs", command=(str(venv / "bin" / "kernel"),))
    try:
        # One create first (not counted), so what the first HTTP/2 connection and the first write
        # import is not counted as the objects' memory.
        trio.run(partial(create_many, kernel.url, kernel.token, kernel.ca_file, 1, start=count))
        time.sleep(IDLE_SECONDS)
        before = rss(kernel.process.pid)
        began = time.monotonic()
        size = trio.run(create_many, kernel.url, kernel.token, kernel.ca_file, count)
        elapsed = time.monotonic() - began
        time.sleep(IDLE_SECONDS)
        after = rss(kernel.process.pid)
    finally:
        kernel.stop()
    each = (after - before) / count
    return {"objects": count, "rss_before": before, "rss_after": after, "per_object": each,
            "json_size": size, "overhead": each - size, "create_seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", default="trimmed,default,all")
    parser.add_argument("--objects", default="10000,100000", help="counts for per-object RSS ('' skips)")
    parser.add_argument("--storage-backend", default=None,
                        help="backend of every server (default: sqlite when the trimmed build has "
                             "storage_sqlite, else memory)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", default=None, help="keep the venvs here (reused when present)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    selected = builds()
    backend = args.storage_backend or ("sqlite" if "storage_sqlite" in selected["trimmed"] else "memory")
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="footprint-"))
    names = [name for name in args.builds.split(",") if name]
    wheelhouse = workdir / "wheelhouse"
    wheels = build_wheels(wheelhouse, [ROOT, *plugin_dirs(selected["all"])])
    results: dict = {"storage_backend": backend, "builds": {}, "objects": []}
    print(f"{'build':<9} {'plugins':>7} {'idle RSS':>10} {'installed':>10} {'no .pyc':>10} "
          f"{'edge':>8} {'import':>8} {'startup':>8}")
    for name in names:
        plugins = selected[name]
        venv = workdir / f"venv-{name}"
        make_venv(venv, [wheels[ROOT], *(wheels[d] for d in plugin_dirs(plugins))], wheelhouse)
        imported = import_time(venv, args.runs)
        startup, idle = startup_and_rss(venv, workdir / name, backend, args.runs)
        size, source_only = installed_size(venv)
        edge_venv = workdir / f"venv-{name}-edge"
        make_venv(edge_venv, [wheels[ROOT], *(wheels[d] for d in plugin_dirs(plugins))], wheelhouse,
                  compile=False)
        edge = edge_installed_size(edge_venv, workdir / name, backend)
        results["builds"][name] = {"plugins": plugins, "idle_rss": idle, "installed_size": size,
                                   "installed_size_no_bytecode": source_only,
                                   "installed_size_edge": edge,
                                   "import_seconds": imported, "startup_seconds": startup}
        print(f"{name:<9} {len(plugins):>7} {idle / MB:>8.1f}MB {size / MB:>8.1f}MB {source_only / MB:>8.1f}MB "
              f"{edge / MB:>6.1f}MB {imported * 1000:>6.0f}ms {startup * 1000:>6.0f}ms", flush=True)
    counts = [int(c) for c in args.objects.split(",") if c]
    if counts:
        trimmed = selected["trimmed"]
        venv = workdir / "venv-trimmed"
        make_venv(venv, [wheels[ROOT], *(wheels[d] for d in plugin_dirs(trimmed))], wheelhouse)
        print(f"\nper stored configmap (trimmed build, --storage-backend={backend}):")
        for count in counts:
            row = per_object(venv, workdir / "trimmed", backend, count)
            results["objects"].append(row)
            print(f"  {count:>7} objects: RSS {row['rss_before'] / MB:.1f} → {row['rss_after'] / MB:.1f} MB, "
                  f"{row['per_object'] / 1024:.2f} KiB each, object JSON {row['json_size'] / 1024:.2f} KiB, "
                  f"overhead {row['overhead'] / 1024:.2f} KiB ({row['create_seconds']:.0f} s to create)",
                  flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
