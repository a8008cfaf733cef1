"""A watch on the memory store: a cursor into its change log.

No per-watcher buffer and no work per write beyond waking the waiting watchers: each watcher
reads the log from its own position, so a slow consumer only costs memory for the history the
store keeps anyway. A watcher overtaken by compaction ends with ResourceExpiredError, as an etcd
watch does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Protocol

import trio

from kernel.storage.errors import EXPIRED_WATCH, ResourceExpiredError
from kernel.storage.interface import Predicate, WatchEvent, bookmark, filter_event

from kernel_storage_memory.records import Change, event_for


class ChangeLog(Protocol):
    """What a watch reads of the :class:`~kernel_storage_memory.store.MemoryStorage` it follows
    (a Protocol: the store makes watches, so this module must not import it)."""

    _revision: int  # the newest change
    _compacted: int  # the oldest readable revision
    _closed: bool
    _changed: trio.Event  # set, and replaced, on every write and on close

    async def _enter(self) -> None: ...

    def changes(self, first: int, last: int) -> Iterator[Change]: ...

BATCH = 256  # changes examined per step, so one watcher never holds the event loop for long


class MemoryWatch:
    def __init__(self, store: ChangeLog, prefix: str, revision: int,
                 predicate: Predicate | None, progress_notify: bool) -> None:
        self._store = store
        self._prefix = prefix
        self._revision = revision
        self._predicate = predicate
        self._progress_notify = progress_notify
        self._next = 0  # the next revision to examine
        self._reported = 0  # the newest revision the consumer was told about
        self._pending: deque[WatchEvent] = deque()
        self._closed = False

    async def __aenter__(self) -> MemoryWatch:
        store = self._store
        await store._enter()
        if self._revision == 0:
            self._revision = store._revision
        elif self._revision < store._compacted:
            raise ResourceExpiredError(self._prefix, EXPIRED_WATCH)
        self._next = self._revision + 1
        self._reported = self._revision
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._closed = True

    def __aiter__(self) -> MemoryWatch:
        return self

    async def __anext__(self) -> WatchEvent:
        await trio.lowlevel.checkpoint()
        store = self._store
        while True:
            if self._closed or store._closed:
                raise StopAsyncIteration
            if self._pending:
                return self._pending.popleft()
            if self._next <= store._revision:
                self._scan()
            else:
                await store._changed.wait()

    def _scan(self) -> None:
        store = self._store
        if self._next <= store._compacted:
            self._closed = True
            raise ResourceExpiredError(self._prefix, EXPIRED_WATCH)
        last = min(store._revision, self._next + BATCH - 1)
        prefix, predicate, pending = self._prefix, self._predicate, self._pending
        for change in store.changes(self._next, last):
            if change.key.startswith(prefix):
                event = filter_event(event_for(change), predicate)
                if event is not None:
                    pending.append(event)
                    self._reported = event.revision
        self._next = last + 1
        # Caught up, and revisions went by that the consumer has not heard of: say so.
        if self._progress_notify and last == store._revision and self._reported < last:
            pending.append(bookmark(last))
            self._reported = last
