"""Python's ``sqlite3`` against ``apsw`` for storage_sqlite's write pattern (why sqlite3).

Inserts of a ~600-byte row in WAL mode with ``synchronous=FULL``, one per transaction and 32 per
transaction (group commit), in files under a temporary directory. apsw is optional
(``pip install apsw``; skipped when absent).

    python bench/sqlite_drivers.py [--rows 2000]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROW = b"x" * 600


def insert_rate(connect: Callable[[str], Any], path: Path, rows: int, batch: int) -> float:
    conn = connect(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE log (rev INTEGER PRIMARY KEY, key TEXT, value BLOB)")
    started = time.perf_counter()
    for first in range(0, rows, batch):
        conn.execute("BEGIN")
        for rev in range(first + 1, first + batch + 1):
            conn.execute("INSERT INTO log VALUES (?, ?, ?)", (rev, f"/registry/x/{rev}", ROW))
        conn.execute("COMMIT")
    return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    drivers: dict[str, Callable[[str], Any]] = {
        f"sqlite3 (SQLite {sqlite3.sqlite_version})": lambda p: sqlite3.connect(p, isolation_level=None)}
    try:
        import apsw
        drivers[f"apsw (SQLite {apsw.sqlite_lib_version()})"] = apsw.Connection
    except ImportError:
        print("apsw not installed: sqlite3 only")
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-drivers-") as tmp:
        for batch in (1, 32):
            for i, (name, connect) in enumerate(drivers.items()):
                rate = insert_rate(connect, Path(tmp) / f"{i}-{batch}.db", args.rows, batch)
                print(f"{name:<28} {batch:>3} rows/transaction: {rate:>8.0f} rows/s")


if __name__ == "__main__":
    main()
