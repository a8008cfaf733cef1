"""storage_sqlite against storage_memory and raw sqlite3: what durability costs the API.

Two servers in one run, pinned like ``bench/api.py``: ``kernel serve
--plugins=api_core,storage_memory`` and ``--plugins=api_core,storage_sqlite`` (WAL,
``--sqlite-synchronous`` FULL by default). GET of one configmap, LIST of 100 and CREATE are driven
by wrk (closed loop, keep-alive, HTTP/1.1 over TLS), interleaved rounds. The floor for CREATE is
Python's ``sqlite3`` inserting a row of the same size in a loop, one transaction per row, with
the same journal and synchronous settings, in a file in the same directory: the rate one fsync per
write allows. The sqlite server beats that floor only by group commit (concurrent writes share a
COMMIT).

Targets: CREATE sqlite ÷ memory ≥ 0.5; GET and LIST ≈ 1 (both come from the watch cache).

    python bench/storage_sqlite.py [--rounds 3] [--duration 3] [--connections 32] [--synchronous FULL]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import ssl
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from api import (  # noqa: E402
    CONFIGMAP, CREATE_NAMESPACE, NAMESPACE, Server, _pinning, combine, interleaved_loads,
    prefill_kernel,
)

from kernel import testing  # noqa: E402


def start(work: Path, backend: str, pin: list[str], env: dict[str, str], synchronous: str) -> Server:
    extra = [f"--sqlite-synchronous={synchronous}"] if backend == "sqlite" else []
    kernel = testing.start_kernel(work / backend, f"--plugins=api_core,storage_{backend}",
                                  *extra, env=env, command_prefix=pin)
    collection = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    return Server(backend, kernel.process, int(kernel.url.rsplit(":", 1)[1]),
                  {"Authorization": f"Bearer {kernel.token}", "Accept": "application/json",
                   "Content-Type": "application/json"},
                  get_path=f"{collection}/cm-0", list_path=collection,
                  create_path=f"/api/v1/namespaces/{CREATE_NAMESPACE}/configmaps",
                  watch_path="", event_path="")


def raw_inserts(path: Path, synchronous: str, seconds: float) -> float:
    """Rows per second of sqlite3 inserting one ~configmap-sized row per transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE log (rev INTEGER PRIMARY KEY, key TEXT, value BLOB)")
    value = (CONFIGMAP % "cm-raw").encode()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        count += 1
        conn.execute("BEGIN")
        conn.execute("INSERT INTO log VALUES (?, ?, ?)", (count, f"/registry/configmaps/x/{count}", value))
        conn.execute("COMMIT")
    rate = count / (time.perf_counter() - started)
    conn.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu)")
    server_pin, load_pin, pinning = _pinning()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-", dir=os.environ.get("TMPDIR")) as tmp:
        work = Path(tmp)
        try:
            for backend in ("memory", "sqlite"):
                servers.append(start(work, backend, server_pin, env, args.synchronous))
            ca = {s.name: str(work / s.name / "certs" / "ca.crt") for s in servers}
            for server in servers:
                prefill_kernel(server, ssl.create_default_context(cafile=ca[server.name]),
                               [NAMESPACE, CREATE_NAMESPACE])
            print(f"storage_sqlite (synchronous={args.synchronous}, WAL) vs storage_memory; "
                  f"wrk -t1 -c{args.connections}, {args.rounds} x {args.duration} s interleaved; "
                  f"{pinning}; data in {work}")
            loads = {test: {name: combine(r) for name, r in runs.items()} for test, runs in
                     interleaved_loads(servers, load_pin, work, args.connections, args.rounds,
                                       args.duration).items()}
            raw = raw_inserts(work / "raw.db", args.synchronous, args.duration)
        finally:
            for server in servers:
                server.stop()
    print(f"\n{'test':<22}{'memory req/s':>14}{'sqlite req/s':>14}{'sqlite÷memory':>15}"
          f"{'sqlite p99 ms':>15}{'errors':>10}")
    for test, by in loads.items():
        memory, sqlite = by["memory"], by["sqlite"]
        errors = "; ".join(e for e in (memory.errors, sqlite.errors) if e) or "-"
        print(f"{test:<22}{memory.req_s:>14.0f}{sqlite.req_s:>14.0f}"
              f"{sqlite.req_s / memory.req_s:>15.2f}{sqlite.p99_ms:>15.1f}{errors:>10}")
    create_rate = loads["CREATE configmap"]["sqlite"].req_s
    print(f"\nraw sqlite3 inserts, one transaction each (synchronous={args.synchronous}, WAL): "
          f"{raw:.0f}/s; sqlite CREATE ÷ raw inserts: {create_rate / raw:.2f} "
          f"(above 1: group commit shares fsyncs)")


if __name__ == "__main__":
    main()
