"""Idle RSS of several installed kernels in interleaved rounds, for a before/after in one run.

Each ``NAME=VENV`` is a venv holding a build (say the trimmed ones ``footprint.py --workdir``
leaves in ``DIR/venv-trimmed``, made from two trees); every round starts each venv's ``kernel
serve`` in turn and reads VmRSS ``footprint.IDLE_SECONDS`` after ``/readyz`` first answers, as
``footprint.py`` does. Prints each run's figure, the medians, and each median less the first's.

    python bench/idle_rss.py [--rounds 3] [--storage-backend sqlite] before=DIR1 after=DIR2 ...
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from footprint import IDLE_SECONDS, MB, rss, serve_args  # noqa: E402

from kernel.testing import start_kernel  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venvs", nargs="+", metavar="NAME=VENV")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--storage-backend", default="sqlite")
    args = parser.parse_args()
    venvs = dict(item.split("=", 1) for item in args.venvs)
    work = Path(tempfile.mkdtemp(prefix="idle-rss-"))
    results: dict[str, list[float]] = {name: [] for name in venvs}
    try:
        for name, venv in venvs.items():  # certificates and bytecode caches, not measured
            start_kernel(work / name / "warmup", *serve_args(args.storage_backend),
                         cert_dir=work / name / "certs", command=(f"{venv}/bin/kernel",)).stop()
        for round_ in range(args.rounds):
            for name, venv in venvs.items():
                kernel = start_kernel(work / name / f"run{round_}", *serve_args(args.storage_backend),
                                      cert_dir=work / name / "certs", command=(f"{venv}/bin/kernel",))
                time.sleep(IDLE_SECONDS)
                results[name].append(rss(kernel.process.pid) / MB)
                kernel.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    first = statistics.median(next(iter(results.values())))
    width = max(len(name) for name in results)
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:<{width}}  " + "  ".join(f"{value:5.1f}" for value in values)
              + f"  median {median:5.1f} MB  ({median - first:+.1f} MB)")


if __name__ == "__main__":
    main()
