"""The SQLite file: its lock, schema, pragmas, and the statements the store runs.

One table is the MVCC log (kine's layout): every write is a new row keyed by its revision, with
the key, the revision that created the key, the revision it replaced (0: none), a deleted flag
and the JSON value (NULL for a deletion). ``meta`` keeps the compacted revision.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import IO

SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    rev INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    created INTEGER NOT NULL,
    prev INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    value BLOB
);
CREATE INDEX IF NOT EXISTS log_key ON log (key, rev);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

#: A row's create revision: its own for a new key, else the one of the row it replaces.
INSERT = ("INSERT INTO log (rev, key, created, prev, deleted, value) VALUES "
          "(?1, ?2, COALESCE((SELECT created FROM log WHERE rev = ?3), ?1), ?3, ?4, ?5)")

#: Rows no read at revision ?1 or later can see: superseded by a newer row of the same key at or
#: before ?1, or deletion tombstones at or before ?1.
COMPACT = ("DELETE FROM log WHERE rev <= ?1 AND (deleted = 1 OR rev < "
           "(SELECT max(newer.rev) FROM log AS newer WHERE newer.key = log.key AND newer.rev <= ?1))")
SET_COMPACTED = "INSERT OR REPLACE INTO meta (name, value) VALUES ('compacted', ?1)"

SYNCHRONOUS = ("FULL", "NORMAL")

#: SQLite's page cache per connection, in KiB (its default is 2000). Reads are served from memory,
#: so the cache only holds the pages a commit touches: the log's and its index's rightmost and
#: interior pages. A small one keeps an edge device's RSS flat as the store grows.
CACHE_KIB = 128


class InUseError(Exception):
    """Another process owns the database file."""


def lock(path: Path) -> IO[str]:
    """Take the exclusive lock on ``path`` (a lock file next to the DB, holding the owner's pid);
    the returned file keeps it until closed (or the process dies, however it dies)."""
    lock_file = open(path.with_name(path.name + ".lock"), "a+")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.seek(0)
        owner = lock_file.read().strip() or "unknown"
        lock_file.close()
        raise InUseError(f"storage_sqlite: {path} is in use by another process (pid {owner})") from None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(f"{os.getpid()}\n")
    lock_file.flush()
    return lock_file


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    """A connection in WAL mode with explicit transactions, usable from the writer thread."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    conn.executescript(SCHEMA)
    return conn


def compacted(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE name = 'compacted'").fetchone()
    return row[0] if row else 1
