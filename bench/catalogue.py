"""What the built-in API catalogue costs: startup to ready and idle RSS, every API group plugin
installed against core only (``--plugins=api_core,storage_memory``), interleaved in one run.

Idle RSS is read from /proc after /readyz answers and /openapi/v3 was fetched once (kubectl asks
for it first; the OpenAPI documents are built at startup, the protobuf messages stay lazy).

    python bench/catalogue.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from startup import KERNEL, POLL_INTERVAL, _kubeconfig_port, _readyz_ok  # noqa: E402



def _installed_but(left_out: str) -> list[str]:
    """``--plugins=`` naming every installed plugin except ``left_out`` (the built-ins are implied)."""
    listing = subprocess.run([KERNEL, "plugins"], capture_output=True, text=True, check=True).stdout
    names = [line.split()[0] for line in listing.splitlines() if "(plugin;" in line]
    return [f"--plugins={','.join(n for n in names if n != left_out)}"]


# debug contributes routes, which imports Quart-Trio: its own figure, apart from the catalogue's
CONFIGS: dict[str, list[str] | None] = {"every group (all installed plugins)": [], "all installed but debug": None,
           "core only": ["--plugins=api_core,storage_memory"]}


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _start(work: Path, extra: list[str]) -> tuple[float, float]:
    kubeconfig = work / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    argv = [KERNEL, "serve", "--secure-port=0", "--bind-address=127.0.0.1",
            f"--write-kubeconfig={kubeconfig}", f"--cert-dir={work / 'certs'}", *extra]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while not kubeconfig.exists():
            if process.poll() is not None:
                raise SystemExit(f"kernel exited with {process.returncode}")
            time.sleep(POLL_INTERVAL)
        port = _kubeconfig_port(kubeconfig.read_text())
        context = ssl.create_default_context(cafile=str(work / "certs" / "ca.crt"))
        while not _readyz_ok(port, context):
            time.sleep(POLL_INTERVAL)
        ready = time.perf_counter() - start
        token = json.loads(kubeconfig.read_text())["users"][0]["user"]["token"]
        request = urllib.request.Request(f"https://127.0.0.1:{port}/openapi/v3",
                                         headers={"Authorization": f"Bearer {token}"})
        urllib.request.urlopen(request, context=context).read()
        time.sleep(0.5)
        return ready, _rss_mib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as tmp:
        work = Path(tmp)
        CONFIGS["all installed but debug"] = _installed_but("debug")
        _start(work, [])  # makes the certificates, warms the file cache
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in CONFIGS}
        for _ in range(args.runs):
            for name, extra in CONFIGS.items():
                results[name].append(_start(work, extra or []))
    print(f"{'':<38} {'ready ms (median)':>18} {'idle RSS MiB (median)':>22}")
    for name, runs in results.items():
        print(f"{name:<38} {statistics.median(r for r, _ in runs) * 1000:18.0f} "
              f"{statistics.median(m for _, m in runs):22.1f}")


if __name__ == "__main__":
    main()
