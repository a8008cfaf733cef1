"""The watch cache (k8s.io/apiserver/pkg/storage/cacher): lists and watches served from memory.

One Cacher per resource prefix (``keys.resource_prefix``; object keys are
``prefix + [namespace/]name``). A reflector task lists the prefix once, then follows one backend
watch (with progress notifications, asked for through the watch's ``request_progress`` when a
read waits for a revision the cache has not reached) and applies each event, synchronously, to:

- the current state: a sorted key list and each object's JSON bytes (lists decode private copies);
  the (re)list that fills it reads pages of ``LIST_PAGE`` at one revision, as JSON when the
  backend can hand it over undecoded (``lists_encoded``), so memory stays near the JSON's size;
- a bounded window of recent events (kept as JSON), so watches can start at a recent past revision;
- every registered watcher: each event is pushed to each interested watcher without waiting
  (see :mod:`kernel.storage.cache_watcher`); watchers that see an event the same way get the
  same WatchEvent instance, so its ``encoded`` slot lets the HTTP layer serialize it once. A
  watcher that is idle and has a direct sink (an HTTP watch) gets the event written to its
  client right here, without waking its task. The events the backend watch has ready at once
  (its optional ``ready(limit)``) are applied, then dispatched together: each watcher gets its
  share in one call, so a direct sink writes them in one write.

Reads: a list at revision None is a consistent read: the cache first catches up with the
backend's current revision (falling back to the backend after ``fresh_timeout``, or at once when
the backend cannot report progress: its ``watch_progress`` is false); revision 0 is served at
once; a list at an exact revision (or a continue token) is served from memory when the cache's
state is that revision's state, else by the backend's MVCC history. A ``get`` with a revision
(kube's GET with a resourceVersion) is served from memory once the cache has reached it; a
``get`` without one and every write go to the backend. ``close()`` stops the cache only:
backends are shared by many caches.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, insort
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, NamedTuple

import msgspec
import trio

from kernel.storage.cache_watcher import CacheWatcher
from kernel.storage.codec import exact
from kernel.storage.continuation import LATEST, decode_continue, encode_continue
from kernel.storage.errors import (
    KeyNotFoundError, ResourceExpiredError, StorageError, StorageUnavailableError,
    TooLargeResourceVersionError, WatchTooSlowError,
)
from kernel.storage.interface import (
    EventType, ListResult, NamedPredicate, Object, Predicate, Preconditions, Storage, TryUpdate,
    ValidateDeletion, WatchEvent, filter_event,
)
from kernel.storage.keys import prefix_end

log = logging.getLogger("kernel.storage")

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

LIST_PAGE = 10000  # the (re)list's page size (kube's storageWatchListPageSize)
DISPATCH_BATCH = 100  # events the backend has ready, dispatched together (one write each)
PROGRESS_RETRY = 0.1  # seconds between progress requests while a read waits for a revision


class _Name(msgspec.Struct):
    name: str = ""
    namespace: str = ""


class _Named(msgspec.Struct):
    """What the key of a listed object needs: its name and namespace (the rest is skipped)."""

    metadata: _Name


_named = msgspec.json.Decoder(_Named).decode


class _Past(NamedTuple):
    """A window entry: an event kept as JSON (the new state's bytes are the ones in
    ``_objects``, shared), decoded again only for a watch that starts before it. A decoded 1 KiB
    ConfigMap takes ~6x its JSON, and the window holds ``window`` of them per resource."""

    type: EventType
    revision: int
    key: str
    data: bytes
    prev: bytes | None

    def event(self) -> WatchEvent:
        prev = None if self.prev is None else _decode(self.prev)
        return WatchEvent(self.type, _decode(self.data), prev, self.revision, self.key)


class Cacher:
    def __init__(self, backend: Storage, prefix: str, *, window: int = 1000,
                 bookmark_interval: float = 60.0, watcher_buffer: int = 1000,
                 fresh_timeout: float = 3.0, retry_interval: float = 1.0) -> None:
        if not prefix.endswith("/"):
            raise ValueError(f"a cache prefix must end with '/': {prefix!r}")
        self.backend = backend
        self.prefix = prefix
        self.window_size = max(1, window)
        self.bookmark_interval = bookmark_interval
        self.watcher_buffer = watcher_buffer
        self.fresh_timeout = fresh_timeout
        self.retry_interval = retry_interval
        self.revision = 0  # every change up to here is reflected (events and progress notes)
        self.floor = 0  # watches can start at revisions >= floor
        self.closed = False
        self._last_change = 0  # revision of the newest change applied: state(r) == ours for
        #                        every r in [_last_change, revision]
        self._keys: list[str] = []
        self._objects: dict[str, bytes] = {}
        self._window: deque[_Past] = deque()
        self._watchers: set[CacheWatcher] = set()
        self._moved = trio.Event()  # set (and replaced) whenever revision moves, and on close
        self._ready = trio.Event()
        self._serving = False  # False until the first list, and while relisting after an error
        self._scope: trio.CancelScope | None = None
        # The backend watch's ``request_progress`` (if it has one): a backend may tell a watch
        # how far the store moved only when asked, as etcd's RequestProgress.
        self._request_progress: Callable[[], None] | None = None

    # -- the reflector -----------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """List, then follow the backend's watch until closed; ``started`` once the first list
        is in. A compacted watch relists (and ends open watches with 410); errors retry."""
        with trio.CancelScope() as self._scope:
            started = False
            failing = False
            while not self.closed:
                try:
                    self._reset(*await self._list_all())
                    if failing:
                        log.info("watch cache of %s: listed again", self.prefix)
                        failing = False
                    if not started:
                        task_status.started()
                        started = True
                    await self._follow()
                except ResourceExpiredError:
                    continue  # we fell behind the backend's history: relist
                except StorageError as error:
                    if not failing:  # once per outage, not once per retry
                        log.warning("watch cache of %s: cannot list or watch, retrying every "
                                    "%gs: %s", self.prefix, self.retry_interval, error.message)
                        failing = True
                    self._serving = False
                    await trio.sleep(self.retry_interval)

    async def _follow(self) -> None:
        while not self.closed:
            async with self.backend.watch(self.prefix, revision=self.revision,
                                          progress_notify=True) as events:
                self._request_progress = getattr(events, "request_progress", None)
                ready = getattr(events, "ready", None)  # the events due now, without waiting
                try:
                    async for event in events:
                        batch = [event]
                        if ready is not None:
                            batch += ready(DISPATCH_BATCH - 1)
                        for each in batch:
                            self._apply(each)
                        self._dispatch(batch)
                        self._advance(batch[-1].revision)
                finally:
                    self._request_progress = None
            await trio.sleep(0)  # the backend ended the watch: resume from our revision

    async def _list_all(self) -> tuple[dict[str, bytes], int]:
        """Every object under the prefix as JSON, and the revision they were read at: pages of
        LIST_PAGE at the first page's revision (a compaction in between expires the list, and
        ``run`` lists again), so only a page is ever decoded at once, if at all."""
        options = {"encoded": True} if getattr(self.backend, "lists_encoded", False) else {}
        objects: dict[str, bytes] = {}
        token = None
        while True:
            page = await self.backend.get_list(self.prefix, limit=LIST_PAGE, continue_from=token,
                                               **options)
            for item in page.items:
                if isinstance(item, msgspec.Raw):
                    data = bytes(item)
                    meta = _named(data).metadata
                    key = f"{self.prefix}{meta.namespace}/{meta.name}" if meta.namespace else \
                        f"{self.prefix}{meta.name}"
                else:
                    key, data = self._key_of(item), exact(_encode(item))
                objects[key] = data
            token = page.continue_from
            if not token:
                return objects, page.revision

    def _reset(self, objects: dict[str, bytes], revision: int) -> None:
        self._keys = sorted(objects)
        self._objects = objects
        self._window.clear()
        self._last_change = self.floor = revision
        for watcher in list(self._watchers):  # they missed events: make them start over
            watcher.finish(ResourceExpiredError(self.prefix, "the watch cache was re-initialized"))
        self._watchers.clear()
        self._serving = True
        self._ready.set()
        self._advance(revision, force=True)

    def _key_of(self, obj: Object) -> str:
        metadata = obj["metadata"]
        namespace = metadata.get("namespace")
        return f"{self.prefix}{namespace}/{metadata['name']}" if namespace else \
            f"{self.prefix}{metadata['name']}"

    def _apply(self, event: WatchEvent) -> None:
        """Take ``event`` into the state and the window (the caller dispatches and advances)."""
        if event.type == "BOOKMARK":
            return
        if not event.key:
            event.key = self._key_of(event.object)
        key = event.key
        data = exact(_encode(event.object))
        if event.type == "DELETED":
            if self._objects.pop(key, None) is not None:
                del self._keys[bisect_left(self._keys, key)]
        else:
            if key not in self._objects:
                insort(self._keys, key)
            self._objects[key] = data
        self._last_change = event.revision
        if len(self._window) >= self.window_size:
            self.floor = self._window.popleft().revision
        prev = None if event.prev_object is None else exact(_encode(event.prev_object))
        self._window.append(_Past(event.type, event.revision, key, data, prev))

    def _dispatch(self, batch: list[WatchEvent]) -> None:
        """Hand each watcher, in one call, the events of ``batch`` it sees: a caught-up watcher
        gets them written to its client in one write (kube's watch server likewise flushes
        only when no more events are waiting)."""
        events = [event for event in batch if event.type != "BOOKMARK"]
        if not events:
            return
        derived: dict[tuple[int, str], WatchEvent] = {}  # one instance per way of seeing one
        slow = []
        single = events[0] if len(events) == 1 else None
        for watcher in self._watchers:
            prefix, revision, predicate = watcher.prefix, watcher.revision, watcher.predicate
            if single is not None and predicate is None:
                # One event, a watcher of everything under its prefix (the usual case, once per
                # watcher): it is handed ``events`` itself, which no one changes.
                if (single.key.startswith(prefix) and single.revision > revision
                        and not watcher.deliver(events)):
                    slow.append(watcher)
                continue
            seen: list[WatchEvent] = []
            for i, event in enumerate(events):
                if not event.key.startswith(prefix) or event.revision <= revision:
                    continue  # another prefix, or a watch from a revision not reached then
                if predicate is None:
                    seen.append(event)
                    continue
                its = filter_event(event, predicate)
                if its is not None:
                    seen.append(its if its is event else derived.setdefault((i, its.type), its))
            if seen and not watcher.deliver(seen):  # written to its client, or buffered
                slow.append(watcher)
        for watcher in slow:
            self._watchers.discard(watcher)
            watcher.finish(WatchTooSlowError(
                self.prefix, f"the watcher fell {self.watcher_buffer} events behind and was "
                             f"dropped at resource version {events[-1].revision}; watch again"))

    def _advance(self, revision: int, *, force: bool = False) -> None:
        if revision > self.revision or force:
            self.revision = revision
            moved, self._moved = self._moved, trio.Event()
            moved.set()

    @property
    def object_count(self) -> int:
        """Objects in the cache now (``apiserver_storage_objects``)."""
        return len(self._keys)

    # -- waiting -----------------------------------------------------------------------------

    async def wait_ready(self) -> None:
        await self._ready.wait()
        if self.closed:
            raise StorageUnavailableError(self.prefix, f"the watch cache of {self.prefix} is closed")

    async def wait_for(self, revision: int, timeout: float | None = None) -> bool:
        """Wait until the cache reflects ``revision``; False after the timeout. Writes to other
        resources move the store's revision without an event here: the backend watch is asked
        for progress (kube's watch cache asks etcd while a read waits for freshness)."""
        with trio.move_on_after(self.fresh_timeout if timeout is None else timeout):
            while self.revision < revision:
                if self.closed:
                    raise StorageUnavailableError(self.prefix, "the watch cache is closed")
                if self._request_progress is not None:
                    self._request_progress()
                # A request may go unanswered for a while (etcd defers it while one of its
                # watches catches up): ask again every PROGRESS_RETRY, as kube does.
                with trio.move_on_after(PROGRESS_RETRY):
                    await self._moved.wait()
            return True
        return False

    def _told_progress(self) -> bool:
        """Whether the backend tells this cache promptly and truthfully how far the store moved
        (its ``watch_progress``, true unless it says otherwise; kube's RequestWatchProgress).
        Without it the cache cannot know it is as fresh as a revision it has no event of, and
        reads that need one go to the backend, as kube's watch cache does."""
        return getattr(self.backend, "watch_progress", True)

    async def wait_fresh(self) -> bool:
        """Catch up with the backend's current revision (a consistent read's precondition)."""
        return await self.wait_for(await self.backend.current_revision())

    # -- watch registration (called by CacheWatcher without awaiting in between) --------------

    def events_after(self, revision: int) -> deque[WatchEvent]:
        replay: deque[WatchEvent] = deque()
        for past in reversed(self._window):
            if past.revision <= revision:
                break
            replay.appendleft(past.event())
        return replay

    def register(self, watcher: CacheWatcher) -> None:
        self._watchers.add(watcher)

    def unregister(self, watcher: CacheWatcher) -> None:
        self._watchers.discard(watcher)

    # -- Storage -----------------------------------------------------------------------------

    def _covers(self, prefix: str) -> bool:
        return self._serving and not self.closed and prefix.startswith(self.prefix)

    async def get_list(self, prefix: str, *, revision: int | None = None, limit: int = 0,
                       continue_from: str | None = None,
                       predicate: Predicate | None = None, encoded: bool = False) -> ListResult:
        """Storage.get_list; with ``encoded`` and no predicate, items served from memory are
        ``msgspec.Raw`` JSON (for a response that only re-encodes them)."""
        async def from_backend() -> ListResult:
            options = {"encoded": True} if encoded and predicate is None and \
                getattr(self.backend, "lists_encoded", False) else {}
            return await self.backend.get_list(prefix, revision=revision, limit=limit,
                                               continue_from=continue_from, predicate=predicate,
                                               **options)
        if not self._covers(prefix):
            return await from_backend()
        start, wanted = prefix, revision
        if continue_from:
            start, token_revision = decode_continue(continue_from, prefix)
            wanted = None if token_revision == LATEST else token_revision
        if wanted is None:
            if not self._told_progress() or not await self.wait_fresh():
                return await from_backend()
            wanted = self.revision
        elif wanted == 0:
            wanted = self.revision
        elif wanted > self.revision:
            if not self._told_progress() or wanted > await self.backend.current_revision() or \
                    not await self.wait_for(wanted):
                return await from_backend()  # too large: the backend says so
        if not max(self._last_change, self.floor) <= wanted <= self.revision or \
                not self._covers(prefix):
            # Our state is not that revision's, or it was compacted: the backend's MVCC history.
            return await from_backend()
        return self._list(prefix, start, wanted, limit, predicate, encoded)

    def _list(self, prefix: str, start: str, revision: int, limit: int,
              predicate: Predicate | None, encoded: bool = False) -> ListResult:
        keys, objects = self._keys, self._objects
        end = prefix_end(prefix)
        i = bisect_left(keys, start)
        hi = len(keys) if end is None else bisect_left(keys, end)
        items: list[Any] = []
        if encoded and predicate is None:
            # Nothing to match: hand the stored JSON over as it is (no decode, no re-encode).
            i_end = min(hi, i + limit) if limit else hi
            items = [msgspec.Raw(objects[key]) for key in keys[i:i_end]]
            i = i_end
        else:
            # A name predicate's objects are found by their key's last segment, undecoded.
            suffix = "/" + predicate.name if isinstance(predicate, NamedPredicate) else None
            while i < hi:
                key = keys[i]
                i += 1
                if suffix is not None and not key.endswith(suffix):
                    continue
                obj = _decode(objects[key])
                if predicate is not None and not predicate(obj):
                    continue
                items.append(obj)
                if limit and len(items) == limit:
                    break
        if not (limit and len(items) == limit and i < hi):
            return ListResult(items, revision)
        token = encode_continue(keys[i - 1] + "\x00", prefix, revision)
        return ListResult(items, revision, token, None if predicate else hi - i)

    def watch(self, prefix: str, *, revision: int, predicate: Predicate | None = None,
              bookmarks: bool = False, progress_notify: bool = False,
              deadline: float | None = None,
              ) -> AbstractAsyncContextManager[AsyncIterator[WatchEvent]]:
        if not prefix.startswith(self.prefix):
            return self.backend.watch(prefix, revision=revision, predicate=predicate,
                                      bookmarks=bookmarks, progress_notify=progress_notify,
                                      deadline=deadline)
        return CacheWatcher(self, prefix, revision, predicate, bookmarks, deadline)

    async def get(self, key: str, *, revision: int | None = None) -> Object:
        """Storage.get; with ``revision`` (a GET's resourceVersion: not older than it) from memory,
        as kube's Cacher.Get: 0 at once, a later one once the cache has reached it. Without
        one (a quorum read), or while the cache is not serving, the backend answers."""
        if revision is None or not self._covers(key):
            return await self.backend.get(key)
        if revision > self.revision:
            current = await self.backend.current_revision()
            if revision > current:
                raise TooLargeResourceVersionError(key, revision=revision, current=current)
            if not self._told_progress() or not await self.wait_for(revision) or \
                    not self._covers(key):
                return await self.backend.get(key)  # as fresh as the store: fresher than asked
        data = self._objects.get(key)
        if data is None:
            raise KeyNotFoundError(key, resource_version=self.revision)
        return _decode(data)

    async def create(self, key: str, obj: Object) -> Object:
        return await self.backend.create(key, obj)

    async def guaranteed_update(self, key: str, try_update: TryUpdate, *,
                                preconditions: Preconditions | None = None,
                                ignore_not_found: bool = False) -> Object:
        return await self.backend.guaranteed_update(
            key, try_update, preconditions=preconditions, ignore_not_found=ignore_not_found)

    async def delete(self, key: str, *, preconditions: Preconditions | None = None,
                     validate_deletion: ValidateDeletion | None = None) -> Object:
        return await self.backend.delete(key, preconditions=preconditions,
                                         validate_deletion=validate_deletion)

    async def current_revision(self) -> int:
        return await self.backend.current_revision()

    async def compact(self, revision: int) -> None:
        await self.backend.compact(revision)
        while self._window and self._window[0].revision <= revision:
            self._window.popleft()
        self.floor = max(self.floor, revision)

    async def health(self) -> None:
        if self.closed:
            raise StorageUnavailableError(self.prefix, f"the watch cache of {self.prefix} is closed")
        await self.backend.health()

    async def close(self) -> None:
        """Stop the reflector and end every watch; the backend stays open."""
        self.closed = True
        self._serving = False
        if self._scope is not None:
            self._scope.cancel()
        for watcher in list(self._watchers):
            watcher.finish(None)
        self._watchers.clear()
        self._ready.set()
        self._advance(self.revision, force=True)
        await trio.lowlevel.checkpoint()


@asynccontextmanager
async def open_cacher(backend: Storage, prefix: str, **options: Any) -> AsyncIterator[Cacher]:
    """A running Cacher (its reflector in a nursery of its own), closed on exit."""
    cacher = Cacher(backend, prefix, **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(cacher.run)
        try:
            yield cacher
        finally:
            await cacher.close()
