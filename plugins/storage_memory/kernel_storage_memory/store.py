"""An in-memory MVCC store implementing kernel.storage.Storage, with a bounded history.

Layout (etcd's model, scaled down):

- every write gets the next revision and appends one ``Change`` to a log; the log holds exactly
  the revisions ``(compacted, revision]``, so the change of revision r is ``log[r - compacted - 1]``
  and a watch is a cursor into it;
- each key has its versions within the retained history (a deletion is a tombstone version), so a
  read at any retained revision finds the newest version at or before it;
- two sorted key lists: ``_live`` (keys that exist now: current reads, exact counts) and
  ``_index`` (keys with any retained version: reads at past revisions);
- values are JSON bytes without ``resourceVersion`` (set on decode from the version's revision),
  so stored objects are immutable, every read returns a private copy, and "same content" is a
  byte comparison.

Past ``history`` revisions old, changes are compacted away one by one as new ones arrive, so no
write does more than O(log n) index work plus the list insert/remove of a new or deleted key.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
import trio

from kernel.storage.continuation import LATEST, decode_continue, encode_continue
from kernel.storage.errors import (
    EXPIRED_LIST, INCONSISTENT_CONTINUE, KeyExistsError, KeyNotFoundError, ResourceExpiredError,
    StorageUnavailableError, TooLargeResourceVersionError,
)
from kernel.storage.interface import (
    ListResult, Object, Predicate, Preconditions, TryUpdate, ValidateDeletion, WatchEvent,
)
from kernel.storage.keys import prefix_end

from kernel.storage.codec import decode as load
from kernel.storage.codec import encode as content
from kernel_storage_memory.defaults import DEFAULT_HISTORY
from kernel_storage_memory.records import Change, Version, versions_of, with_version
from kernel_storage_memory.watch import MemoryWatch, WatchRouter


class MemoryStorage:
    """The ``memory`` storage backend. Data lives in this process only: nothing survives a restart."""

    def __init__(self, *, history: int = DEFAULT_HISTORY, ttls: Mapping[str, float] = {}) -> None:
        if history < 1:
            raise ValueError("history must be at least 1 revision")
        self.history = history
        # Like etcd, an empty store is at revision 1: no list is ever at resourceVersion "0",
        # which clients read as "any".
        self._revision = 1
        self._compacted = 1  # oldest readable revision; the log holds (compacted, revision]
        self._log: deque[Change] = deque()
        # A key's versions: the one Version most keys ever have, else a list, oldest first (a
        # list per key costs ~70 bytes an object: 5% of a 1 KiB ConfigMap's overhead).
        self._versions: dict[str, Version | list[Version]] = {}
        self._index: list[str] = []  # sorted keys of _versions
        self._live: list[str] = []  # sorted keys that exist at the current revision
        self._router = WatchRouter()  # the open watches, each fed only the changes it concerns
        self._closed = False
        # Keys under a prefix of ``ttls`` expire that many seconds after their last write (kube's
        # --event-ttl, which etcd does with leases): key -> time.monotonic() deadline.
        self.ttls = {prefix: ttl for prefix, ttl in ttls.items() if ttl > 0}
        self._expiry: dict[str, float] = {}

    # -- reads -------------------------------------------------------------------------------

    def _current(self, key: str) -> Version | None:
        kept = self._versions.get(key)
        latest = kept if kept is None or type(kept) is Version else kept[-1]
        return latest if latest is not None and latest.data is not None else None

    def _at(self, key: str, revision: int) -> Version | None:
        for version in reversed(versions_of(self._versions.get(key))):
            if version.revision <= revision:
                return version if version.data is not None else None
        return None

    async def _enter(self) -> None:
        await trio.lowlevel.checkpoint()
        self._check_open()

    def _check_open(self) -> None:
        if self._closed:
            raise StorageUnavailableError("", "the memory storage is closed")

    async def get(self, key: str) -> Object:
        await self._enter()
        version = self._current(key)
        if version is None:
            raise KeyNotFoundError(key)
        assert version.data is not None
        return load(version.data, version.revision)

    async def get_list(self, prefix: str, *, revision: int | None = None, limit: int = 0,
                       continue_from: str | None = None,
                       predicate: Predicate | None = None) -> ListResult:
        await self._enter()
        start = prefix
        if continue_from:
            start, token_revision = decode_continue(continue_from, prefix)
            revision = None if token_revision == LATEST else token_revision
        read_at = self._revision if not revision else revision
        if read_at > self._revision:
            raise TooLargeResourceVersionError(prefix, revision=read_at, current=self._revision)
        if read_at < self._compacted:
            if continue_from:
                raise ResourceExpiredError(prefix, INCONSISTENT_CONTINUE,
                                           continue_token=encode_continue(start, prefix, LATEST))
            raise ResourceExpiredError(prefix, EXPIRED_LIST)
        end = prefix_end(prefix)
        current = read_at == self._revision
        keys = self._live if current else self._index
        lo = bisect_left(keys, start)
        hi = len(keys) if end is None else bisect_left(keys, end)
        items: list[Object] = []
        last_key = ""
        i = lo
        while i < hi:
            key = keys[i]
            i += 1
            version = self._current(key) if current else self._at(key, read_at)
            if version is None:
                continue
            assert version.data is not None
            obj = load(version.data, version.revision)
            if predicate is not None and not predicate(obj):
                continue
            items.append(obj)
            last_key = key
            if limit and len(items) == limit:
                break
        full = bool(limit) and len(items) == limit
        if not full or not self._any_visible(keys, i, hi, read_at, current):
            return ListResult(items, read_at)  # the last page
        remaining = None
        if predicate is None:
            remaining = hi - i if current else self._count_after(last_key, end, read_at)
        return ListResult(items, read_at, encode_continue(last_key + "\x00", prefix, read_at),
                          remaining)

    def _any_visible(self, keys: list[str], i: int, hi: int, revision: int, current: bool) -> bool:
        if current:
            return i < hi
        return any(self._at(keys[j], revision) is not None for j in range(i, hi))

    def _count_after(self, after: str, end: str | None, revision: int) -> int:
        """How many keys in ``(after, end)`` exist at the past ``revision``: the count now,
        corrected by the keys changed since (the log is bounded, the key range may not be)."""
        live = self._live
        count = (len(live) if end is None else bisect_left(live, end)) - bisect_right(live, after)
        seen: set[str] = set()
        for change in reversed(self._log):
            if change.revision <= revision:
                break
            key = change.key
            if key in seen or key <= after or (end is not None and key >= end):
                continue
            seen.add(key)
            count += (self._at(key, revision) is not None) - (self._current(key) is not None)
        return count

    async def current_revision(self) -> int:
        await self._enter()
        return self._revision

    async def health(self) -> None:
        await self._enter()

    # -- writes ------------------------------------------------------------------------------

    def _commit(self, key: str, data: bytes | None, prev: Version | None) -> int:
        self._revision += 1
        revision = self._revision
        kept = self._versions.get(key)
        if kept is None:
            insort(self._index, key)
        self._versions[key] = with_version(kept, Version(revision, data))
        if prev is None:
            insort(self._live, key)
        elif data is None:
            del self._live[bisect_left(self._live, key)]
        change = Change(revision, key, data, prev)
        self._log.append(change)
        if self.ttls:
            self._set_expiry(key, data is None)
        if len(self._log) > self.history:
            self._compact_to(revision - self.history)
        self._router.route(change, self._compacted)
        self._publish()
        return revision

    def _publish(self) -> None:
        """Let the watches see the changes routed to them (at once: the memory store has no
        commit after this one)."""
        self._router.publish(self._revision)

    @property
    def _logged(self) -> int:
        """The newest change in the log (what watches may deliver is ``_revision``)."""
        return self._revision

    async def create(self, key: str, obj: Object) -> Object:
        await self._enter()
        data = content(obj)
        if self._current(key) is not None:
            raise KeyExistsError(key)
        return load(data, self._commit(key, data, None))

    async def guaranteed_update(self, key: str, try_update: TryUpdate, *,
                                preconditions: Preconditions | None = None,
                                ignore_not_found: bool = False) -> Object:
        while True:
            await self._enter()
            current = self._current(key)
            if current is None:
                if not ignore_not_found:
                    raise KeyNotFoundError(key)
                obj: Object = {}
            else:
                assert current.data is not None
                obj = load(current.data, current.revision)
            if preconditions is not None:
                preconditions.check(key, obj)
            result = try_update(obj)
            if inspect.isawaitable(result):
                result = await result
            self._check_open()
            if self._current(key) is not current:
                continue  # another write landed while try_update ran: redo on the new state
            data = content(result)
            if current is not None and data == current.data:
                return load(data, current.revision)  # no change: keep the resourceVersion
            return load(data, self._commit(key, data, current))

    async def delete(self, key: str, *, preconditions: Preconditions | None = None,
                     validate_deletion: ValidateDeletion | None = None) -> Object:
        while True:
            await self._enter()
            current = self._current(key)
            if current is None:
                raise KeyNotFoundError(key)
            assert current.data is not None
            if preconditions is not None or validate_deletion is not None:
                obj = load(current.data, current.revision)
                if preconditions is not None:
                    preconditions.check(key, obj)
                if validate_deletion is not None:
                    outcome = validate_deletion(obj)
                    if inspect.isawaitable(outcome):
                        await outcome
                    self._check_open()
                    if self._current(key) is not current:
                        continue
            return load(current.data, self._commit(key, None, current))

    # -- expiry (TTL) ---------------------------------------------------------------------------

    def _set_expiry(self, key: str, deleted: bool) -> None:
        if deleted:
            self._expiry.pop(key, None)
            return
        for prefix, ttl in self.ttls.items():
            if key.startswith(prefix):
                self._expiry[key] = time.monotonic() + ttl
                return

    async def expire(self) -> int:
        """Delete the keys whose TTL ran out (their watchers see DELETED); how many."""
        now = time.monotonic()
        deleted = 0
        for key in [key for key, deadline in self._expiry.items() if deadline <= now]:
            try:
                await self.delete(key)
                deleted += 1
            except KeyNotFoundError:
                self._expiry.pop(key, None)
        return deleted

    async def expire_periodically(self, period: float) -> None:
        while not self._closed:
            await trio.sleep(period)
            await self.expire()

    # -- history -----------------------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        await self._enter()
        self._compact_to(revision)

    def _compact_to(self, revision: int) -> None:
        revision = min(revision, self._revision)
        if revision <= self._compacted:
            return
        log = self._log
        while log and log[0].revision <= revision:
            self._compact_key(log.popleft().key, revision)
        self._compacted = revision

    def _compact_key(self, key: str, revision: int) -> None:
        """Drop the versions of ``key`` no read at ``revision`` or later can see."""
        versions = list(versions_of(self._versions[key]))
        keep = 0
        while keep + 1 < len(versions) and versions[keep + 1].revision <= revision:
            keep += 1
        del versions[:keep]
        if versions[0].data is None and versions[0].revision <= revision:
            del versions[0]
        if not versions:
            del self._versions[key]
            del self._index[bisect_left(self._index, key)]
        else:
            self._versions[key] = versions[0] if len(versions) == 1 else versions

    # -- watch -------------------------------------------------------------------------------

    def watch(self, prefix: str, *, revision: int, predicate: Predicate | None = None,
              bookmarks: bool = False, progress_notify: bool = False,
              deadline: float | None = None,
              ) -> AbstractAsyncContextManager[AsyncIterator[WatchEvent]]:
        # Periodic bookmarks are optional for a backend (kube's servers may omit them); the
        # watch cache above produces them for clients.
        return MemoryWatch(self, prefix, revision, predicate, progress_notify)

    def changes(self, first: int, last: int) -> Iterator[Change]:
        """The changes of revisions ``first..last`` (retained ones; used by MemoryWatch)."""
        log, base = self._log, self._compacted + 1
        return (log[r - base] for r in range(first, last + 1))

    async def close(self) -> None:
        self._closed = True
        self._router.close()

    def __repr__(self) -> str:
        return (f"MemoryStorage(revision={self._revision}, compacted={self._compacted}, "
                f"objects={len(self._live)})")
