"""What the discovery and OpenAPI documents cost a server: at startup, at idle, and on the first
request for each (they are built on that first request and cached).

Each series starts ``kernel serve`` (``--runs`` times, series interleaved so drift hits them
alike): spawn until /readyz answers 200, the server's CPU time until then, VmRSS ``--idle``
seconds after ready; then, in this order, the first GET of aggregated discovery ``/apis`` (with
kubectl's Accept), ``/openapi/v2`` (JSON), the ``/openapi/v3`` index and ``/openapi/v3/api/v1``
(with its ``?hash=``), each timed (ms, wall) with the server CPU it took, then a second GET of
``/apis`` and ``/openapi/v2`` (served from the cache), and VmRSS after all of them.

``--before DIR`` adds a series whose ``kernel`` package (and plugins) come from DIR, an older
tree extracted with ``git archive REV kernel plugins | tar -x -C DIR``, run through
``run_tree.py`` (this tree's series then runs through it too): before and after in one run.

    python bench/documents.py [--runs 3] [--plugins a,b] [--storage-backend memory] [--before DIR]
                              [--idle 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from kernel.testing import start_kernel  # noqa: E402

KERNEL = str(Path(sys.executable).with_name("kernel"))
AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
              "application/json")
COLUMNS = ("ready ms", "ready cpu ms", "idle RSS MiB", "/apis ms", "/apis cpu ms",
           "/openapi/v2 ms", "/openapi/v2 cpu ms", "/openapi/v3 ms", "/openapi/v3 cpu ms",
           "v3 api/v1 ms", "again /apis ms", "again v2 ms", "RSS after MiB")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _timed(client: Any, pid: int, path: str, accept: str = "application/json",
           ) -> tuple[float, float, Any]:
    cpu = _cpu_ms(pid)
    started = time.perf_counter()
    response = client.get(path, headers={"Accept": accept})
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code, response.text[:200])
    return elapsed, _cpu_ms(pid) - cpu, response


def _one(command: list[str], work: Path, serve: list[str], idle: float) -> dict[str, float]:
    started = time.perf_counter()
    kernel = start_kernel(work, *serve, command=command)
    figures: dict[str, float] = {"ready ms": (time.perf_counter() - started) * 1000}
    pid = kernel.process.pid
    try:
        figures["ready cpu ms"] = _cpu_ms(pid)
        time.sleep(idle)
        figures["idle RSS MiB"] = _rss_mib(pid)
        with kernel.client(timeout=120) as client:
            figures["/apis ms"], figures["/apis cpu ms"], _ = _timed(client, pid, "/apis", AGGREGATED)
            figures["/openapi/v2 ms"], figures["/openapi/v2 cpu ms"], _ = _timed(
                client, pid, "/openapi/v2")
            figures["/openapi/v3 ms"], figures["/openapi/v3 cpu ms"], index = _timed(
                client, pid, "/openapi/v3")
            url = index.json()["paths"]["api/v1"]["serverRelativeURL"]
            figures["v3 api/v1 ms"], _, _ = _timed(client, pid, url)
            figures["again /apis ms"], _, _ = _timed(client, pid, "/apis", AGGREGATED)
            figures["again v2 ms"], _, _ = _timed(client, pid, "/openapi/v2")
        figures["RSS after MiB"] = _rss_mib(pid)
    finally:
        kernel.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--plugins", default=None,
                        help="--plugins for kernel serve (default: every installed plugin)")
    parser.add_argument("--before", default=None, help="an older tree's directory (git archive)")
    parser.add_argument("--storage-backend", default="memory")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds after ready for idle RSS")
    args = parser.parse_args()
    serve = [f"--storage-backend={args.storage_backend}",
             *([f"--plugins={args.plugins}"] if args.plugins else [])]
    series: dict[str, list[str]] = {"this tree": [KERNEL]}
    if args.before:  # both through run_tree.py, so neither pays for it alone
        series = {name: [sys.executable, str(HERE / "run_tree.py"), str(tree), KERNEL]
                  for name, tree in (("this tree", HERE.parent), ("before", Path(args.before)))}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in series}
    with tempfile.TemporaryDirectory(prefix="bench-documents-") as tmp:
        for run in range(args.runs):
            for name, command in series.items():
                work = Path(tmp) / f"{name.replace(' ', '-')}-{run}"
                results[name].append(_one(command, work, serve, args.idle))
    print(f"first requests for discovery and OpenAPI, {args.runs} runs per series "
          f"(median [min-max]); plugins: {args.plugins or 'all installed'}")
    for column in COLUMNS:
        cells = []
        for name in series:
            values = [r[column] for r in results[name]]
            cells.append(f"{name}: {statistics.median(values):8.1f} "
                         f"[{min(values):.1f}-{max(values):.1f}]")
        print(f"  {column:<20}" + "   ".join(cells))
    if args.before:
        for column in ("ready ms", "ready cpu ms", "idle RSS MiB", "/apis ms", "/openapi/v2 ms"):
            after = statistics.median(r[column] for r in results["this tree"])
            before = statistics.median(r[column] for r in results["before"])
            print(f"  ratio after/before {column}: {after / before:.2f}")


if __name__ == "__main__":
    main()
