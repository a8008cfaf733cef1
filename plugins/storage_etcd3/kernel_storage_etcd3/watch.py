"""etcd watches bridged into trio.

One Watch stream per store carries every watch (as clientv3 shares one per client): a streaming
call on the store's connection to etcd (:mod:`kernel_storage_etcd3.transport`), whose reader task
hands each response to the stream in the trio thread. Routing responses to watches by id,
buffering events, requesting progress: all in the trio thread, without locks or threads; a
response is handled without waiting for any consumer, so one slow consumer cannot hold up the
stream.

A broken stream (etcd restarted, connection lost) ends no watch: each re-creates itself on a new
stream from the last revision it delivered + 1, retrying until etcd answers, so consumers see no
gap; a watch whose next revision was compacted meanwhile ends with ResourceExpiredError (410).

Progress: with ``progress_notify`` a watch turns etcd's progress notifications into BOOKMARKs:
etcd's own periodic ones (``--experimental-watch-progress-notify-interval``, ordered with the
events), and, when the store knows etcd answers them truthfully (``Etcd3Storage.watch_progress``:
etcd 3.4.31+ / 3.5.13+, kube's RequestWatchProgress check), the ones
:meth:`Etcd3Storage.current_revision` asks for (``WatchProgressRequest``, answered on the stream
with watch id -1 for every watch) when a watch is behind the revision it read: that is what lets
the watch cache serve consistent lists from memory without waiting. Older etcd (Debian ships
3.4.23) may answer such a request before events it has already queued for the watch
(etcd-io/etcd#15220, #17507), so it is never asked.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from types import TracebackType
from typing import Any, Protocol

import trio

from kernel.storage.errors import (
    EXPIRED_WATCH, ResourceExpiredError, StorageError, StorageTimeoutError,
    StorageUnavailableError,
)
from kernel.storage.interface import Predicate, WatchEvent, bookmark, filter_event

from kernel_storage_etcd3 import codec, transport
from kernel_storage_etcd3.config import EtcdConfig
from kernel_storage_etcd3.etcdpb import rpc as etcdrpc

WATCH = transport.Method(b"/etcdserverpb.Watch/Watch", etcdrpc.WatchResponse)


class WatchedStore(Protocol):
    """What streams and watches read of the :class:`~kernel_storage_etcd3.store.Etcd3Storage`
    they belong to (a Protocol: the store makes them, so this module must not import it)."""

    config: EtcdConfig
    keys: codec.Keys
    closed: bool

    async def check_watchable(self, prefix: str, revision: int, *, resume: bool = False) -> None: ...

    async def watch_stream(self) -> WatchStream: ...

    def stream_ended(self, stream: WatchStream, error: BaseException | None) -> None: ...

    async def check_watch_progress(self) -> None: ...

    def want_progress(self, revision: int) -> None: ...

    def progress_answered(self, stream: WatchStream, revision: int) -> None: ...

log = logging.getLogger("kernel.storage.etcd3")

RETRY_MIN, RETRY_MAX = 0.05, 1.0  # backoff while re-creating a watch on a broken stream


class WatchStream:
    """One etcd Watch stream and the watches on it."""

    def __init__(self, store: WatchedStore, connection: transport.Connection,
                 endpoint: str) -> None:
        self.store = store
        self.endpoint = endpoint
        self.alive = True
        self.progress_asked = -math.inf  # trio time of the unanswered progress request, if any
        self.token = connection.token
        self._pending: deque[Etcd3Watch] = deque()  # create requests sent, not yet answered
        self._watches: dict[int, Etcd3Watch] = {}
        self._call = connection.open_stream(WATCH, self._on_response, self._on_end)

    # -- the trio side -------------------------------------------------------------------------

    def create(self, watch: Etcd3Watch, start_revision: int) -> None:
        prefix = watch.etcd_prefix
        request = etcdrpc.WatchCreateRequest(
            key=prefix, range_end=self.store.keys.range_end(prefix), start_revision=start_revision,
            prev_kv=True, progress_notify=watch.progress_notify)
        self._pending.append(watch)
        self._call.send(etcdrpc.WatchRequest(create_request=request))

    def cancel(self, watch: Etcd3Watch) -> None:
        if watch.watch_id is not None and self._watches.get(watch.watch_id) is watch:
            del self._watches[watch.watch_id]
            self._send_cancel(watch.watch_id)
        elif watch in self._pending:
            watch.abandoned = True  # cancelled once etcd says which id it got

    def _send_cancel(self, watch_id: int) -> None:
        if self.alive:
            request = etcdrpc.WatchCancelRequest(watch_id=watch_id)
            self._call.send(etcdrpc.WatchRequest(cancel_request=request))

    def request_progress(self) -> None:
        if self.alive:
            self.progress_asked = trio.current_time()
            self._call.send(etcdrpc.WatchRequest(progress_request=etcdrpc.WatchProgressRequest()))

    def behind(self, revision: int) -> bool:
        """Whether a progress-notify watch on this stream has not reported ``revision`` yet."""
        return any(w.progress_notify and w.last < revision for w in self._watches.values())

    def close(self) -> None:
        if self.alive:
            self._call.cancel()
            self._on_end(None)

    def _on_response(self, response: Any) -> None:
        try:
            self._dispatch(response)
        except Exception:  # never let one bad response take down the trio run
            log.exception("etcd watch response could not be handled")

    def _dispatch(self, response: Any) -> None:
        if response.created:
            if not self._pending:
                return
            watch = self._pending.popleft()
            if response.canceled:
                watch.on_failed(StorageError(watch.prefix, "etcd refused the watch: "
                                             f"{response.cancel_reason or 'no reason given'}"))
            elif watch.abandoned:
                self._send_cancel(response.watch_id)
            else:
                self._watches[response.watch_id] = watch
                watch.on_created(self, response.watch_id, response.header.revision)
            return
        if response.watch_id == -1:  # a requested progress notification, for every watch
            self.progress_asked = -math.inf
            revision = response.header.revision
            for watch in list(self._watches.values()):
                watch.on_progress(revision)
            self.store.progress_answered(self, revision)
            return
        watch = self._watches.get(response.watch_id)
        if watch is None:
            return  # a leftover of a cancelled watch
        if response.compact_revision:
            del self._watches[response.watch_id]
            watch.on_failed(ResourceExpiredError(watch.prefix, EXPIRED_WATCH))
        elif response.canceled:
            del self._watches[response.watch_id]
            watch.on_broken(f"etcd cancelled the watch: {response.cancel_reason or 'no reason'}")
        else:
            watch.on_response(response)

    def _on_end(self, error: BaseException | None) -> None:
        self.alive = False
        self.progress_asked = -math.inf
        reason = _describe(error, self.endpoint)
        watches = [*self._pending, *self._watches.values()]
        self._pending.clear()
        self._watches.clear()
        for watch in watches:
            watch.on_broken(reason)
        self.store.stream_ended(self, error)


def _describe(error: BaseException | None, endpoint: str) -> str:
    if isinstance(error, transport.CallError):
        return f"the watch stream to etcd {endpoint} ended: {error.code().name} {error.details()}"
    return f"the watch stream to etcd {endpoint} ended" + (f": {error}" if error else "")


class Etcd3Watch:
    """One watch of a prefix (the Storage.watch context manager and event iterator)."""

    def __init__(self, store: WatchedStore, prefix: str, revision: int,
                 predicate: Predicate | None, progress_notify: bool) -> None:
        self.store = store
        self.prefix = prefix
        self.etcd_prefix = store.keys.to_etcd(prefix)
        self.predicate = predicate
        self.progress_notify = progress_notify
        self.last = revision  # every change up to here was delivered (0: watch from now)
        self.watch_id: int | None = None
        self.abandoned = False
        self._stream: WatchStream | None = None
        self._created = False
        self._broken: str | None = None  # why the stream under this watch ended
        self._error: Exception | None = None  # ends the iteration once the buffer is read
        self._events: deque[WatchEvent] = deque()
        self._changed = trio.Event()
        self._exited = False

    # -- called by the stream (trio thread, synchronously) ---------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def on_created(self, stream: WatchStream, watch_id: int, revision: int) -> None:
        self._stream, self.watch_id, self._created = stream, watch_id, True
        if self.last == 0:
            self.last = revision  # "from now": from the revision etcd started the watch at
        self._notify()

    def on_response(self, response: Any) -> None:
        events = response.events
        for raw in events:
            key = self.store.keys.to_kernel(raw.kv.key)
            try:
                event = codec.event(key, raw)
            except StorageError as error:
                self.on_failed(error)
                return
            seen = filter_event(event, self.predicate)
            if seen is not None:
                self._events.append(seen)
            self.last = max(self.last, event.revision)
        if not events:  # etcd's own periodic progress notification
            self.on_progress(response.header.revision)
        self._notify()

    def on_progress(self, revision: int) -> None:
        if revision > self.last:
            self.last = revision
            if self.progress_notify:
                self._events.append(bookmark(revision))
            self._notify()

    def request_progress(self) -> None:
        """Ask etcd how far the store moved (the watch cache calls this while a read waits)."""
        self.store.want_progress(0)

    def on_broken(self, reason: str) -> None:
        self._broken, self._created, self.watch_id = reason, False, None
        self._notify()

    def on_failed(self, error: Exception) -> None:
        self._error = error
        self._notify()

    # -- the consumer's side ---------------------------------------------------------------------

    async def __aenter__(self) -> Etcd3Watch:
        if self.last:
            await self.store.check_watchable(self.prefix, self.last)
        await self._establish()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._close()

    def _close(self) -> None:
        self._exited = True
        if self._stream is not None:
            self._stream.cancel(self)
        self._notify()

    async def _establish(self) -> None:
        """Create this watch on the store's stream, from ``last + 1``; wait until etcd has it."""
        self._broken, self._created, self.abandoned = None, False, False
        if self.progress_notify:
            await self.store.check_watch_progress()
        stream = await self.store.watch_stream()
        self._stream = stream
        stream.create(self, self.last + 1 if self.last else 0)
        try:
            with trio.move_on_after(self.store.config.request_timeout):
                while not (self._created or self._broken or self._error or self._exited
                           or self.store.closed):
                    await self._changed.wait()
        finally:
            if not self._created:
                stream.cancel(self)
        if self._error is not None:
            raise self._error
        if self._broken is not None:
            raise StorageUnavailableError(self.prefix, self._broken)
        if not self._created and not (self._exited or self.store.closed):
            raise StorageTimeoutError(self.prefix, f"etcd {stream.endpoint} did not create "
                                                   "the watch in time")

    async def _resume(self) -> None:
        """Re-create the watch after its stream broke, retrying while etcd is unreachable."""
        log.info("watch of %s: %s; resuming from revision %d", self.prefix, self._broken,
                 self.last + 1)
        delay = RETRY_MIN
        while not (self._exited or self.store.closed):
            try:
                await self.store.check_watchable(self.prefix, self.last, resume=True)
                await self._establish()
                log.info("watch of %s resumed from revision %d", self.prefix, self.last + 1)
                return
            except StorageUnavailableError as error:
                log.debug("watch of %s not resumed yet: %s", self.prefix, error)
                self._broken = str(error)
                await trio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    def __aiter__(self) -> Etcd3Watch:
        return self

    def ready(self, limit: int) -> list[WatchEvent]:
        """Up to ``limit`` more events already received, so the watch cache can dispatch them
        together (etcd sends a revision's events, and often several revisions', at once)."""
        events, received = [], self._events
        while received and len(events) < limit:
            events.append(received.popleft())
        return events

    async def __anext__(self) -> WatchEvent:
        await trio.lowlevel.checkpoint()
        while True:
            if self._events:
                return self._events.popleft()
            if self._exited or self.store.closed:
                raise StopAsyncIteration
            if self._error is not None:
                error, self._error = self._error, None
                self._close()
                raise error
            if self._broken is not None:
                await self._resume()
                continue
            await self._changed.wait()
