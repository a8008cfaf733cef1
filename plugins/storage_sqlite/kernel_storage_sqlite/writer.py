"""The writer thread: it owns the write connection and commits rows in groups.

Rows queued while a COMMIT runs go into the next transaction together (group commit), so one
fsync covers many writes; each batch's outcome is handed back to the trio loop after its COMMIT
returned, and only then are the writes in it acknowledged.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from kernel_storage_sqlite import db

Row = tuple[int, str, int, int, bytes | None]  # rev, key, prev rev (0: none), deleted, value
Job = Callable[[sqlite3.Connection], Any]  # run in a transaction of its own (compaction)
#: Called on the trio loop (through the trio token) as ``done(last revision, error)``.
Done = Callable[[int, BaseException | None], None]

MAX_BATCH = 1024
_STOP = object()


class Writer:
    def __init__(self, conn: sqlite3.Connection, done: Done, call_soon: Callable[..., None]) -> None:
        self._conn = conn
        self._done = done
        self._call_soon = call_soon  # trio's TrioToken.run_sync_soon
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="storage_sqlite writer", daemon=True)
        self._thread.start()

    def write(self, row: Row) -> None:
        self._queue.put(row)

    def job(self, job: Job, finished: Callable[[Any, BaseException | None], None]) -> None:
        """Run ``job`` after the rows queued before it; ``finished(result, error)`` on the loop."""
        self._queue.put((job, finished))

    def stop(self) -> None:
        """Commit what is queued, then end the thread (join it off the loop)."""
        self._queue.put(_STOP)

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        get = self._queue.get
        pending: object | None = None
        while True:
            item = get() if pending is None else pending
            pending = None
            if item is _STOP:
                return
            if isinstance(item, tuple) and len(item) == 2:
                self._run_job(*item)  # type: ignore[misc]
                continue
            rows = [item]
            while len(rows) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if not (isinstance(item, tuple) and len(item) == 5):
                    pending = item  # a job or the stop: after this batch
                    break
                rows.append(item)
            self._commit(rows)  # type: ignore[arg-type]

    def _commit(self, rows: list[Row]) -> None:
        error: BaseException | None = None
        try:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(db.INSERT, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except Exception as exc:  # the store fails from here on: nothing after it is acknowledged
            error = exc
        self._call_soon(self._done, rows[-1][0], error)

    def _run_job(self, job: Job, finished: Callable[[Any, BaseException | None], None]) -> None:
        result, error = None, None
        try:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = job(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except Exception as exc:
            error = exc
        self._call_soon(finished, result, error)
