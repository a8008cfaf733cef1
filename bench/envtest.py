"""pytest-kernel's setup cost, beside envtest's: startup (fixture to ready) and installed size.

Startup is what the ``kernel_server`` fixture pays once per session: ``start_server`` with the
default settings (``kernel serve --plugins=api_core,storage_memory``, plus api_apiextensions when
installed) from spawn until GET /readyz answers 200. Each run gets a fresh working directory, so
it includes generating the CA and serving certificate, as a test session does. It is split into
the interpreter, the imports of the kernel and the selected plugins (``python -c 'import ...'``),
and the rest (assembling the server chain, binding, post-start hooks, the readiness poll).
With ``--etcd`` (and Debian's etcd-server installed) a series on a real etcd follows.

Installed size sums the files of the distributions the server needs (the kernel, the selected
plugins and their dependency closure) and separately what pytest-kernel adds for the tests'
clients (the ``kubernetes`` client, httpx, pytest). Editable installs count their source tree.

envtest's setup, as published (no binaries can be downloaded here, so none is measured):
setup-envtest downloads kube-apiserver, etcd and kubectl for the requested Kubernetes version
(the kubebuilder book's envtest reference; controller-runtime's tools/setup-envtest README), about
100 MB (issue 13), and envtest starts etcd, then kube-apiserver, waiting up to
KUBEBUILDER_CONTROLPLANE_START_TIMEOUT, 20 s by default (kubebuilder PR #1055's documentation of
envtest's options). For scale, Debian's etcd binary on this machine is printed too.

    python bench/envtest.py [--runs 7] [--etcd]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

from pytest_kernel.server import KernelSettings, start_server

SERVER_DISTS = ["kernel", "kernel-api-core", "kernel-storage-memory", "kernel-api-apiextensions"]
CLIENT_DISTS = ["pytest-kernel"]


LOG_TIME = re.compile(r"^[IWE]\d{4} (\d\d):(\d\d):(\d\d\.\d+) ")


def _seconds_of_day(wall: float) -> float:
    local = time.localtime(wall)
    return local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec + wall % 1


def phases(log: str, spawned: float, ready: float) -> tuple[float, float, float]:
    """From the log's timestamps: spawn → first line (interpreter, imports, flags, the CA and
    serving certificate), → "Serving securely" (the server chain, binding), → /readyz 200."""
    stamps = []
    for line in log.splitlines():
        match = LOG_TIME.match(line)
        if match and (not stamps or "Serving securely" in line):
            hours, minutes, seconds = match.groups()
            stamps.append(int(hours) * 3600 + int(minutes) * 60 + float(seconds))
    first, serving = stamps[0], stamps[1]
    start = _seconds_of_day(spawned)
    return first - start, serving - first, _seconds_of_day(ready) - serving


def startups(settings: KernelSettings, runs: int) -> tuple[list[float], list[tuple[float, ...]]]:
    times, splits = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="kernel-bench-") as workdir:
            spawned = time.time()
            server = start_server(settings, Path(workdir))
            ready = time.time()
            times.append(server.startup_seconds)
            splits.append(phases(server.log(), spawned, ready))
            server.stop()
    return times, splits


def _python_seconds(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def _dist(name: str) -> Distribution | None:
    try:
        return distribution(name)
    except PackageNotFoundError:
        return None


def closure(names: list[str]) -> dict[str, Distribution]:
    """The distributions and, transitively, their (non-extra) requirements that are installed."""
    found: dict[str, Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        dist = _dist(name)
        if name in found or dist is None:
            continue
        found[name] = dist
        for requirement in dist.requires or []:
            parsed = Requirement(requirement)
            if parsed.marker is None or parsed.marker.evaluate({"extra": ""}):
                todo.append(parsed.name)
    return found


def installed_bytes(dist: Distribution) -> int:
    """The files a distribution installed; for an editable install, its source tree."""
    direct = dist.read_text("direct_url.json")
    if direct and json.loads(direct).get("dir_info", {}).get("editable"):
        source = Path(json.loads(direct)["url"].removeprefix("file://"))
        return sum(p.stat().st_size for p in source.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p)
                   and "tests" not in p.relative_to(source).parts and ".venv" not in p.parts)
    return sum((dist.locate_file(f).stat().st_size for f in dist.files or []
                if Path(dist.locate_file(f)).is_file()), 0)


def megabytes(dists: dict[str, Distribution]) -> float:
    return sum(installed_bytes(d) for d in dists.values()) / 1e6


def report_sizes() -> None:
    # The editable kernel's tree would count everything in the repository: count only kernel/.
    server = closure(SERVER_DISTS)
    kernel_tree = Path(__file__).resolve().parent.parent / "kernel"
    kernel_bytes = sum(p.stat().st_size for p in kernel_tree.rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts)
    server_mb = (sum(installed_bytes(d) for n, d in server.items() if n != "kernel")
                 + kernel_bytes) / 1e6
    clients = {n: d for n, d in closure(CLIENT_DISTS).items() if n not in server}
    print(f"installed size: server {server_mb:.1f} MB ({len(server)} distributions: "
          f"{', '.join(sorted(server))})")
    largest = sorted(clients.items(), key=lambda item: -installed_bytes(item[1]))[:3]
    print(f"                test clients {megabytes(clients):.1f} MB ({len(clients)} more; largest: "
          + ", ".join(f"{name} {installed_bytes(dist) / 1e6:.1f} MB" for name, dist in largest)
          + "); nothing downloaded at test time")
    etcd = shutil.which("etcd")
    if etcd:
        print(f"for scale: Debian's etcd binary alone is {Path(etcd).stat().st_size / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--etcd", action="store_true")
    args = parser.parse_args()
    settings = KernelSettings()
    plugins = settings.selected_plugins()
    startups(settings, 1)  # warm the page cache and .pyc files
    times, splits = startups(settings, args.runs)
    median = statistics.median(times)
    print(f"startup (fixture to ready), {','.join(plugins)}, {args.runs} runs: "
          f"median {median:.3f}s (min {min(times):.3f}, max {max(times):.3f})")
    to_log, to_serving, to_ready = (statistics.median(column) for column in zip(*splits))
    print(f"  medians of its phases: spawn to first log line (interpreter, imports, flags, "
          f"certificates) {to_log:.3f}s; to serving (server chain, bind) {to_serving:.3f}s; "
          f"to /readyz 200 (post-start hooks, poll) {to_ready:.3f}s")
    bare = statistics.median(_python_seconds("pass") for _ in range(args.runs))
    imports = statistics.median(_python_seconds("import kernel.cli") for _ in range(args.runs))
    print(f"  for reference: `python -c pass` {bare:.3f}s, `import kernel.cli` adds "
          f"{imports - bare:.3f}s")
    if args.etcd and shutil.which("etcd"):
        etcd_times = []
        for _ in range(3):
            started = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="kernel-bench-") as workdir:
                server = start_server(settings.replace(storage="etcd"), Path(workdir))
                etcd_times.append(time.perf_counter() - started)
                server.stop()
        print(f"startup with etcd (etcd + kernel), 3 runs: median {statistics.median(etcd_times):.3f}s")
    report_sizes()
    print("envtest (published): downloads kube-apiserver + etcd + kubectl, ~100 MB, once per "
          "version; starts etcd then kube-apiserver, start timeout 20 s by default")


if __name__ == "__main__":
    main()
