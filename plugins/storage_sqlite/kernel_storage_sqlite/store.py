"""SqliteStorage: the memory store's MVCC model, made durable by a log in one SQLite file.

The in-memory structures (kernel_storage_memory) answer reads and feed watches; every write also
becomes a row of the SQLite log, committed by the writer thread. A write returns only after the
COMMIT containing its row returned, and watches (hence the watch cache, hence every API list and
watch) only see committed revisions. On start the retained log is read back into memory.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import trio

from kernel.storage.errors import StorageUnavailableError
from kernel.storage.interface import Object, Predicate, Preconditions, TryUpdate, ValidateDeletion, WatchEvent

from kernel_storage_memory import MemoryStorage
from kernel_storage_memory.records import Change, Version, with_version
from kernel_storage_memory.watch import MemoryWatch, WatchRouter
from kernel_storage_sqlite import db
from kernel_storage_sqlite.writer import Writer

log = logging.getLogger("kernel.storage.sqlite")


class SqliteStorage(MemoryStorage):
    """The ``sqlite`` storage backend: one process owns ``path`` (an exclusive lock)."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL", history: int = 10000,
                 ttls: Mapping[str, float] = {}) -> None:
        super().__init__(history=history, ttls=ttls)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = db.lock(self.path)
        try:
            self._conn = db.connect(self.path, synchronous)
            self._file = _identity(self.path)
            self._load()
        except BaseException:
            self._lock.close()
            raise
        self._durable = self._revision  # the newest committed revision
        self._db_compacted = self._compacted
        self._committed = trio.Event()  # set (and replaced) on every COMMIT and on close
        self._failed: BaseException | None = None
        self._writer: Writer | None = None  # started on the first write (it needs the trio loop)
        self._view = _Committed(self)

    def _load(self) -> None:
        """Rebuild the memory store's versions, log and key lists from the retained rows."""
        compacted = db.compacted(self._conn)
        versions, changes = self._versions, self._log
        last = 0
        for rev, key, deleted, value in self._conn.execute(
                "SELECT rev, key, deleted, value FROM log ORDER BY rev"):
            last = rev
            data = None if deleted else bytes(value)
            version = Version(rev, data)
            if rev <= compacted:  # the base state every retained read starts from
                if data is None:
                    versions.pop(key, None)
                else:
                    versions[key] = version
                continue
            prev = self._current(key)
            versions[key] = with_version(versions.get(key), version)
            changes.append(Change(rev, key, data, prev))
        self._index = sorted(versions)
        self._live = sorted(key for key in versions if self._current(key) is not None)
        self._compacted = max(compacted, 1)
        self._revision = max(last, self._compacted)
        for key in self._live:  # TTLs restart with the server (a deadline at most one TTL late)
            self._set_expiry(key, False)
        if len(changes) > self.history:
            self._compact_to(self._revision - self.history)
        log.info("storage_sqlite: %s at revision %d (%d objects, compacted at %d)",
                 self.path, self._revision, len(self._live), self._compacted)

    # -- writes: memory first (in loop order), then the row; acknowledged once committed -----

    def _check_open(self) -> None:
        if self._failed is not None:
            raise StorageUnavailableError("", f"storage_sqlite: a write to {self.path} failed: "
                                              f"{self._failed}")
        super()._check_open()

    def _commit(self, key: str, data: bytes | None, prev: Version | None) -> int:
        revision = super()._commit(key, data, prev)
        if self._writer is None:
            token = trio.lowlevel.current_trio_token()
            self._writer = Writer(self._conn, self._on_commit, token.run_sync_soon)
        self._writer.write((revision, key, 0 if prev is None else prev.revision,
                            int(data is None), data))
        return revision

    def _publish(self) -> None:
        pass  # watches see a change once it is committed (_on_commit)

    def _on_commit(self, revision: int, error: BaseException | None) -> None:
        if error is not None and self._failed is None:
            log.error("storage_sqlite: commit to %s failed: %s", self.path, error)
            self._failed = error
        elif error is None:
            self._durable = max(self._durable, revision)
        committed, self._committed = self._committed, trio.Event()
        committed.set()
        self._router.publish(self._durable)

    async def _wait_committed(self, obj: Object) -> Object:
        revision = int(obj["metadata"]["resourceVersion"])
        while self._durable < revision:
            self._check_open()
            await self._committed.wait()
        return obj

    async def create(self, key: str, obj: Object) -> Object:
        return await self._wait_committed(await super().create(key, obj))

    async def guaranteed_update(self, key: str, try_update: TryUpdate, *,
                                preconditions: Preconditions | None = None,
                                ignore_not_found: bool = False) -> Object:
        return await self._wait_committed(await super().guaranteed_update(
            key, try_update, preconditions=preconditions, ignore_not_found=ignore_not_found))

    async def delete(self, key: str, *, preconditions: Preconditions | None = None,
                     validate_deletion: ValidateDeletion | None = None) -> Object:
        return await self._wait_committed(await super().delete(
            key, preconditions=preconditions, validate_deletion=validate_deletion))

    async def check(self, timeout: float) -> None:
        """The health check: the file is still the one opened, no write has failed, and every
        write made so far commits within ``timeout`` (a stalled disk fails it)."""
        self._check_open()
        try:
            same = _identity(self.path) == self._file
        except OSError:
            same = False
        if not same:
            raise StorageUnavailableError("", f"storage_sqlite: {self.path} was removed or replaced")
        target = self._revision
        with trio.move_on_after(timeout):
            while self._durable < target:
                await self._committed.wait()
                self._check_open()
            return
        raise StorageUnavailableError("", f"storage_sqlite: revision {target} not committed to "
                                          f"{self.path} within {timeout:g}s")

    async def current_revision(self) -> int:
        await self._enter()
        return self._durable

    # -- compaction: memory at once, the file's rows in the writer's order ---------------------

    async def compact(self, revision: int) -> None:
        await super().compact(revision)
        await self.compact_file()

    async def compact_file(self) -> int:
        """Delete the rows the memory store's compaction made unreachable; how many."""
        target = self._compacted
        if target <= self._db_compacted or self._writer is None:
            return 0
        done = trio.Event()
        outcome: list[Any] = []

        def finished(result: Any, error: BaseException | None) -> None:
            outcome.extend((result, error))
            done.set()

        def job(conn: sqlite3.Connection) -> int:
            deleted = conn.execute(db.COMPACT, (target,)).rowcount
            conn.execute(db.SET_COMPACTED, (target,))
            return deleted

        self._writer.job(job, finished)
        await done.wait()
        result, error = outcome
        if error is not None:
            raise StorageUnavailableError("", f"storage_sqlite: compaction failed: {error}")
        self._db_compacted = max(self._db_compacted, target)
        return result

    # -- watches follow committed revisions only ----------------------------------------------

    def watch(self, prefix: str, *, revision: int, predicate: Predicate | None = None,
              bookmarks: bool = False, progress_notify: bool = False,
              deadline: float | None = None,
              ) -> AbstractAsyncContextManager[AsyncIterator[WatchEvent]]:
        return MemoryWatch(self._view, prefix, revision, predicate, progress_notify)

    async def close(self) -> None:
        if self._closed:
            return
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()
            await trio.to_thread.run_sync(writer.join)
        await super().close()
        committed, self._committed = self._committed, trio.Event()
        committed.set()
        self._conn.close()
        self._lock.close()

    def __repr__(self) -> str:
        return (f"SqliteStorage({str(self.path)!r}, revision={self._revision}, "
                f"committed={self._durable}, compacted={self._compacted})")


def _identity(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


class _Committed:
    """The store as its watches see it: up to the newest committed revision."""

    def __init__(self, store: SqliteStorage) -> None:
        self._store = store

    @property
    def _revision(self) -> int:
        return self._store._durable

    @property
    def _compacted(self) -> int:
        return self._store._compacted

    @property
    def _closed(self) -> bool:
        return self._store._closed

    @property
    def _logged(self) -> int:
        return self._store._revision

    @property
    def _router(self) -> WatchRouter:
        return self._store._router

    async def _enter(self) -> None:
        await self._store._enter()

    def changes(self, first: int, last: int) -> Iterator[Change]:
        return self._store.changes(first, last)
