"""A watch on the memory store, fed only the changes under its prefix.

The store's :class:`WatchRouter` hands each change to the watches whose prefix the key falls under
(a reference into the change log, no copy) and wakes only those: a write costs nothing for the
watches, hence the watch caches, of other resources. A watch that starts in the past first reads
the retained log from its revision, then the changes routed to it. A watcher overtaken by
compaction (a change it has not read yet was compacted) ends with ResourceExpiredError, as an etcd
watch does.

Progress (``progress_notify``): a BOOKMARK at the store's revision, once every change up to it has
been delivered, when the consumer asks for it (:meth:`MemoryWatch.request_progress`, what the
watch cache does when a consistent read waits for it: etcd's RequestProgress) and otherwise
``PROGRESS_INTERVAL`` after writes elsewhere moved the store past the watch's last event, so a
burst of writes to other resources costs one bookmark, not one per write (etcd's periodic progress
notifications).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Protocol

import trio

from kernel.storage.errors import EXPIRED_WATCH, ResourceExpiredError
from kernel.storage.interface import Predicate, WatchEvent, bookmark, filter_event

from kernel_storage_memory.records import Change, event_for

BATCH = 256  # past changes examined per step, so one watcher never holds the event loop for long
PROGRESS_INTERVAL = 0.25  # seconds from a write elsewhere to the idle watches' bookmark


class ChangeLog(Protocol):
    """What a watch reads of the :class:`~kernel_storage_memory.store.MemoryStorage` it follows
    (a Protocol: the store makes watches, so this module must not import it)."""

    _revision: int  # the newest change a watch may deliver
    _compacted: int  # the oldest readable revision
    _closed: bool
    _router: WatchRouter

    @property
    def _logged(self) -> int: ...  # the newest change in the log (ahead of _revision: sqlite)

    async def _enter(self) -> None: ...

    def changes(self, first: int, last: int) -> Iterator[Change]: ...


class WatchRouter:
    """The store's open watches by prefix; routes each change to the ones it concerns."""

    def __init__(self) -> None:
        self._by_prefix: dict[str, list[MemoryWatch]] = {}  # prefixes ending with "/"
        self._other: dict[str, list[MemoryWatch]] = {}  # the rest (an exact key, say)
        self._fed: dict[MemoryWatch, None] = {}  # given a change not yet published
        self._idle: set[MemoryWatch] = set()  # progress watches asleep with nothing owed
        self._wanting: set[MemoryWatch] = set()  # progress asked for and not given yet

    def add(self, watch: MemoryWatch) -> None:
        table = self._by_prefix if watch.prefix.endswith("/") else self._other
        table.setdefault(watch.prefix, []).append(watch)

    def remove(self, watch: MemoryWatch) -> None:
        table = self._by_prefix if watch.prefix.endswith("/") else self._other
        watches = table.get(watch.prefix)
        if watches is not None and watch in watches:
            watches.remove(watch)
            if not watches:
                del table[watch.prefix]
        self._fed.pop(watch, None)
        self._idle.discard(watch)
        self._wanting.discard(watch)

    def route(self, change: Change, compacted: int) -> None:
        """Queue ``change`` on every watch under whose prefix its key falls (the key's prefixes
        ending at a "/" are looked up, so the cost does not grow with the number of watches)."""
        key, by_prefix, fed = change.key, self._by_prefix, self._fed
        end = key.find("/") + 1
        while end:
            watches = by_prefix.get(key[:end])
            if watches is not None:
                for watch in watches:
                    watch._feed(change, compacted)
                    fed[watch] = None
            end = key.find("/", end) + 1
        if self._other:
            for prefix, watches in self._other.items():
                if key.startswith(prefix):
                    for watch in watches:
                        watch._feed(change, compacted)
                        fed[watch] = None

    def publish(self, revision: int) -> None:
        """The store's visible revision is now ``revision``: wake the watches fed changes up to
        it and those that asked for progress; the idle ones owe a bookmark in a while."""
        if self._fed:
            fed, self._fed = self._fed, {}
            for watch in fed:
                if watch._wake_for(revision):
                    self._fed[watch] = None  # changes past ``revision`` still to publish
        if self._wanting:
            for watch in list(self._wanting):
                watch._wake()
        if self._idle:
            due = trio.current_time() + PROGRESS_INTERVAL
            for watch in self._idle:
                watch._owe_progress(due)
            self._idle.clear()

    def close(self) -> None:
        for table in (self._by_prefix, self._other):
            for watches in table.values():
                for watch in watches:
                    watch._wake()


class MemoryWatch:
    def __init__(self, store: ChangeLog, prefix: str, revision: int,
                 predicate: Predicate | None, progress_notify: bool) -> None:
        self._store = store
        self.prefix = prefix
        self._revision = revision
        self._predicate = predicate
        self._progress_notify = progress_notify
        self._next = 0  # the next revision to deliver
        self._backlog_end = 0  # the log's end when the watch started: read from the log up to it
        self._queue: deque[Change] = deque()  # routed changes after the backlog
        self._reported = 0  # the newest revision the consumer was told about
        self._pending: deque[WatchEvent] = deque()
        self._closed = False
        self._expired = False
        self._wakeup: trio.Event | None = None  # set while asleep
        self._scope: trio.CancelScope | None = None  # a progress watch's sleep (its deadline)
        self._due = math.inf  # when a progress bookmark is due
        self._wanted = False  # progress asked for

    async def __aenter__(self) -> MemoryWatch:
        store = self._store
        await store._enter()
        if self._revision == 0:
            self._revision = store._revision
        elif self._revision < store._compacted:
            raise ResourceExpiredError(self.prefix, EXPIRED_WATCH)
        self._next = self._revision + 1
        self._reported = self._revision
        # No await from here on: the backlog ends where the routed changes begin.
        self._backlog_end = store._logged
        if self._backlog_end >= self._next:
            self._due = -math.inf  # caught up with the past: say how far (once)
        store._router.add(self)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._closed = True
        self._store._router.remove(self)
        self._queue.clear()

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
            if self._expired:
                self._closed = True
                raise ResourceExpiredError(self.prefix, EXPIRED_WATCH)
            visible = store._revision
            if self._next <= min(visible, self._backlog_end):
                self._scan(min(visible, self._backlog_end))
                continue
            queue = self._queue
            if queue and queue[0].revision <= visible:
                self._deliver(queue.popleft())
                continue
            if self._progress_notify and visible > self._reported and (self._wanted or (
                    self._due != math.inf and self._due <= trio.current_time())):
                self._progressed(visible)
                return bookmark(visible)
            await self._sleep(visible)

    def ready(self, limit: int) -> list[WatchEvent]:
        """Up to ``limit`` more events that are due without waiting, so the watch cache can
        dispatch them together. The backlog, bookmarks and the watch's end stay with
        ``__anext__``."""
        events: list[WatchEvent] = []
        store, pending, queue = self._store, self._pending, self._queue
        while len(events) < limit and not (self._closed or store._closed):
            if pending:
                events.append(pending.popleft())
                continue
            visible = store._revision
            if self._expired or self._next <= min(visible, self._backlog_end) \
                    or not queue or queue[0].revision > visible:
                break
            self._deliver(queue.popleft())
        return events

    def request_progress(self) -> None:
        """A BOOKMARK at the store's revision as soon as every change up to it is delivered (at
        once when the watch is caught up), or at the next write if the watch already told that
        revision (the watch cache asks when a read waits for a revision it has not reached)."""
        if self._progress_notify and not self._closed and not self._wanted:
            self._wanted = True
            self._store._router._wanting.add(self)
            if self._store._revision > self._reported:
                self._wake()

    # -- delivery ------------------------------------------------------------------------------

    def _scan(self, last: int) -> None:
        """The past changes up to ``last`` (at most BATCH of them), from the log."""
        store = self._store
        if self._next <= store._compacted:
            self._closed = True
            raise ResourceExpiredError(self.prefix, EXPIRED_WATCH)
        last = min(last, self._next + BATCH - 1)
        prefix, predicate, pending = self.prefix, self._predicate, self._pending
        for change in store.changes(self._next, last):
            if change.key.startswith(prefix):
                event = filter_event(event_for(change), predicate)
                if event is not None:
                    pending.append(event)
                    self._reported = event.revision
        self._next = last + 1

    def _deliver(self, change: Change) -> None:
        if change.revision < self._next:
            return  # within the backlog, or before a future start revision
        if change.revision <= self._store._compacted:
            self._expired = True
            return
        self._next = change.revision + 1
        event = filter_event(event_for(change), self._predicate)
        if event is not None:
            self._pending.append(event)
            self._reported = change.revision

    def _progressed(self, revision: int) -> None:
        self._reported = revision
        self._due = math.inf
        if self._wanted:
            self._wanted = False
            self._store._router._wanting.discard(self)

    # -- sleeping and waking (the router calls these, synchronously) ---------------------------

    async def _sleep(self, visible: int) -> None:
        self._wakeup = wakeup = trio.Event()
        if not self._progress_notify:
            await wakeup.wait()
            return
        if self._reported >= visible:
            self._due = math.inf
            self._store._router._idle.add(self)  # a bookmark is owed after the next write
        elif self._due == math.inf:
            self._due = trio.current_time() + PROGRESS_INTERVAL
        try:
            with trio.CancelScope(deadline=self._due) as self._scope:
                await wakeup.wait()
        finally:
            self._scope = None
            self._wakeup = None

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()
            if self._progress_notify:
                self._store._router._idle.discard(self)

    def _wake_for(self, revision: int) -> bool:
        """Published up to ``revision``: wake if a queued change is now visible; whether some
        are still beyond it."""
        queue = self._queue
        if queue and queue[0].revision <= revision:
            self._wake()
        return bool(queue) and queue[-1].revision > revision

    def _feed(self, change: Change, compacted: int) -> None:
        if self._expired:
            return
        queue = self._queue
        if queue and queue[0].revision <= compacted:
            # It fell behind the retained history: it ends with 410; hold nothing more for it.
            self._expired = True
            queue.clear()
            self._wake()
            return
        queue.append(change)

    def _owe_progress(self, due: float) -> None:
        if due < self._due:
            self._due = due
            if self._scope is not None:
                self._scope.deadline = due
