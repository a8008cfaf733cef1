"""etcd leases for keys with a TTL (kube's --event-ttl), shared by writes close in time.

What k8s.io/apiserver/pkg/storage/etcd3/lease_manager.go does: a lease is granted with the TTL
plus a reuse window (5% of the TTL, at most 60 s), and later writes within that window attach to
the same lease instead of granting one each: every key attached still lives at least its TTL and
at most TTL + window. A lease takes at most 1000 keys, so that its expiry deletes a bounded batch.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import trio

REUSE_PERCENT = 0.05
MAX_REUSE_SECONDS = 60
MAX_OBJECTS = 1000


class LeaseManager:
    def __init__(self, grant: Callable[[int], Awaitable[int]], *,
                 reuse_percent: float = REUSE_PERCENT, max_reuse_seconds: int = MAX_REUSE_SECONDS,
                 max_objects: int = MAX_OBJECTS) -> None:
        self._grant = grant  # ttl (s) → the id of a new etcd lease
        self.reuse_percent = reuse_percent
        self.max_reuse_seconds = max_reuse_seconds
        self.max_objects = max_objects
        self._lock = trio.Lock()  # one grant at a time: concurrent writes share its lease
        self._lease = 0
        self._expires = 0.0  # time.monotonic() at which the current lease ends
        self._attached = 0

    def reuse_seconds(self, ttl: int) -> int:
        return min(int(self.reuse_percent * ttl), self.max_reuse_seconds)

    async def get_lease(self, ttl: int) -> int:
        """The id of a lease that lasts at least ``ttl`` seconds from now."""
        async with self._lock:
            now = time.monotonic()
            reuse = self.reuse_seconds(ttl)
            # valid: it outlives the TTL; sufficient: it was granted for this TTL's window
            valid = now + ttl < self._expires
            sufficient = now + ttl + reuse > self._expires
            self._attached += 1
            if valid and sufficient and self._attached <= self.max_objects:
                return self._lease
            self._lease = await self._grant(ttl + reuse)
            self._expires = now + ttl + reuse
            self._attached = 1
            return self._lease
