"""One watch served by the watch cache (kube's cacheWatcher).

The cache pushes events into a bounded channel without ever waiting; a watcher whose buffer is
full is dropped (its iterator ends with WatchTooSlowError once the buffered events are read), so
one slow client never delays the others. Events of the window older than the watcher's start are
replayed first, from a snapshot taken at registration, so nothing is missed or repeated.

A consumer may also give a synchronous sink (:meth:`CacheWatcher.set_direct`: the HTTP layer
writing the event to the client's socket). While the consumer is idle (waiting for the next
event with nothing buffered or replayed), the cache hands events to the sink instead of the
channel, so a caught-up watcher costs no task wake-up; whenever the sink declines, the event
takes the channel as before, and the consumer is not idle again until it has written it.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

import trio

from kernel.storage.errors import (
    ResourceExpiredError, StorageError, TooLargeResourceVersionError,
)
from kernel.storage.interface import Predicate, Storage, WatchEvent, bookmark, filter_event

log = logging.getLogger("kernel.storage")


class WatchCache(Protocol):
    """What a watcher reads of the :class:`~kernel.storage.cacher.Cacher` that serves it (a
    Protocol: the cacher makes watchers, so this module must not import it)."""

    backend: Storage
    revision: int  # every change up to here has been dispatched
    floor: int  # the oldest revision a watch may start from
    bookmark_interval: float
    watcher_buffer: int

    async def wait_ready(self) -> None: ...

    async def wait_for(self, revision: int, timeout: float | None = None) -> bool: ...

    def events_after(self, revision: int) -> deque[WatchEvent]: ...

    def register(self, watcher: CacheWatcher) -> None: ...

    def unregister(self, watcher: CacheWatcher) -> None: ...


class CacheWatcher:
    def __init__(self, cacher: WatchCache, prefix: str, revision: int, predicate: Predicate | None,
                 bookmarks: bool, deadline: float | None = None) -> None:
        self.cacher = cacher
        self.prefix = prefix
        self.revision = revision
        self.predicate = predicate
        self.bookmarks = bookmarks
        self.deadline = deadline  # when the consumer ends the watch (trio clock), if known
        self.send, self._receive = trio.open_memory_channel[WatchEvent](cacher.watcher_buffer)
        self._replay: deque[WatchEvent] = deque()
        self._error: StorageError | None = None
        self._finished = False
        self._exited = False
        self._next_bookmark = 0.0
        self._direct: Callable[[list[WatchEvent]], bool] | None = None
        self._parked = False  # the consumer waits in receive() with nothing buffered or replayed

    # -- called by the cache (synchronously, while dispatching) ------------------------------

    def deliver(self, events: list[WatchEvent]) -> bool:
        """Hand ``events`` (in order) over without waiting: to the direct sink if the consumer
        is idle and the sink takes them all, else into the buffer; False when it is full."""
        if self._parked and self._direct is not None:
            try:
                if self._direct(events):
                    return True
            except Exception:  # a sink's bug must not stop the cache: this watch stops using it
                log.exception("watch of %s: the direct sink failed; buffering instead", self.prefix)
                self._direct = None
        send = self.send.send_nowait
        try:
            for event in events:
                send(event)
        except trio.WouldBlock:
            return False
        self._parked = False  # a waiting consumer now holds it: later events queue behind it
        return True

    def finish(self, error: StorageError | None) -> None:
        """Stop receiving events; the iterator ends (raising ``error``) after the buffered ones."""
        if not self._finished:
            self._finished = True
            self._error = error
        self.send.close()

    # -- the consumer's side -----------------------------------------------------------------

    async def __aenter__(self) -> CacheWatcher:
        cacher = self.cacher
        await cacher.wait_ready()
        revision = self.revision
        if revision == 0:
            # From now: strictly after the backend's current revision. The cache may lag behind
            # it (under load); the events it applies up to that revision are not dispatched to
            # this watcher (Cacher._dispatch), so nothing older leaks in and nothing is waited for.
            revision = max(cacher.revision, await cacher.backend.current_revision())
        elif revision > cacher.revision:
            # Every event after a revision the cache has not reached is still to come (and is
            # dispatched to this watcher): once the store has reached it, start at once.
            if revision > await cacher.backend.current_revision() and \
                    not await cacher.wait_for(revision):
                raise TooLargeResourceVersionError(self.prefix, revision=revision,
                                                   current=cacher.revision)
        if revision < cacher.floor:
            raise ResourceExpiredError(
                self.prefix, f"too old resource version: {revision} ({cacher.floor})")
        # No await from here on: the replay snapshot and the registration see the same state.
        self.revision = revision
        self._replay = cacher.events_after(revision)
        cacher.register(self)
        self._schedule_bookmark(trio.current_time())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._exited = True
        self.cacher.unregister(self)
        self.send.close()
        self._receive.close()

    def set_direct(self, sink: Callable[[list[WatchEvent]], bool] | None) -> None:
        """Events that find the consumer idle go to ``sink`` (synchronously, from the cache's
        dispatch, as a list of those due together: it must not raise) unless it returns False,
        having written none of them. The consumer sets it when every event it was given so far
        is written, as events given to ``sink`` follow those."""
        self._direct = sink

    def __aiter__(self) -> CacheWatcher:
        return self

    async def __anext__(self) -> WatchEvent:
        if self._exited:
            await trio.lowlevel.checkpoint()
            raise StopAsyncIteration
        while self._replay:
            event = filter_event(self._replay.popleft(), self.predicate)
            if event is not None:
                await trio.lowlevel.checkpoint()
                return event
        # receive() is the checkpoint from here on.
        try:
            if not self.bookmarks:
                return await self._wait()
            while True:
                now = trio.current_time()
                if now >= self._next_bookmark:
                    if not self._idle():  # buffered events (or the end) come first
                        return await self._receive.receive()
                    self._schedule_bookmark(now)
                    # Nothing buffered: every event up to the cache's revision was delivered.
                    return bookmark(max(self.cacher.revision, self.revision))
                with trio.move_on_at(self._next_bookmark):
                    return await self._wait()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            if self._error is not None:
                raise self._error from None
            raise StopAsyncIteration from None

    async def _wait(self) -> WatchEvent:
        """The next buffered event; idle (the direct sink's turn) while there is none."""
        self._parked = self._receive.statistics().current_buffer_used == 0
        try:
            return await self._receive.receive()
        finally:
            self._parked = False

    def ready(self, limit: int) -> list[WatchEvent]:
        """Up to ``limit`` more events that are due without waiting (replayed, then buffered), so
        a consumer that just got one from ``__anext__`` writes them all at once. Bookmarks and
        the end of the watch stay with ``__anext__``."""
        events: list[WatchEvent] = []
        while self._replay and len(events) < limit:
            event = filter_event(self._replay.popleft(), self.predicate)
            if event is not None:
                events.append(event)
        receive = self._receive.receive_nowait
        try:
            while len(events) < limit:
                events.append(receive())
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            pass
        return events

    def _schedule_bookmark(self, now: float) -> None:
        """kube's nextBookmarkTime: every bookmark_interval, but also 2 s before the deadline, so
        a client that re-watches on timeout starts from a recent resourceVersion; none after."""
        at = now + self.cacher.bookmark_interval
        if self.deadline is not None:
            at = min(at, self.deadline - 2.0)
            if at <= now:  # the pre-timeout bookmark is due now or was sent: none after it
                at = math.inf
        self._next_bookmark = at

    def _idle(self) -> bool:
        """Nothing buffered and still fed: a bookmark at the cache's revision is truthful."""
        return not self._finished and self._receive.statistics().current_buffer_used == 0
