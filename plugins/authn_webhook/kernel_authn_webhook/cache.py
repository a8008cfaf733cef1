"""kube's cached token authenticator (k8s.io/apiserver/pkg/authentication/token/cache): answers
kept by an HMAC of the token and the request's audiences (the token itself is never a key), for
one TTL when the token authenticated and another when it did not; an error is not kept (the
webhook is asked again next time). Concurrent lookups of one key share a single call
(singleflight), so a burst of requests with a new token costs the webhook one review."""

from __future__ import annotations

import collections
import hashlib
import hmac
import os
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import trio

from kernel.authentication import UserInfo

#: kube's striped cache: 32 stripes of 4096 entries each.
CACHE_SIZE = 32 * 4096


@dataclass(frozen=True)
class Record:
    """One lookup's outcome: the user, or not authenticated (``user`` None), or an error."""

    user: UserInfo | None = None
    error: str = ""


class _Flight:
    def __init__(self) -> None:
        self.done = trio.Event()
        self.record: Record | None = None  # None: the leader was cancelled, look up again


class TokenCache:
    def __init__(self, success_ttl: float, failure_ttl: float, size: int = CACHE_SIZE) -> None:
        self.success_ttl = success_ttl
        self.failure_ttl = failure_ttl
        self.size = size
        self._secret = os.urandom(32)
        self._entries: collections.OrderedDict[bytes, tuple[float, Record]] = collections.OrderedDict()
        self._flights: dict[bytes, _Flight] = {}

    def key(self, token: str, audiences: Sequence[str]) -> bytes:
        """Length-prefixed token and audiences under a per-process HMAC key."""
        mac = hmac.new(self._secret, digestmod=hashlib.sha256)
        for part in (token, *audiences):
            data = part.encode("utf-8")
            mac.update(struct.pack(">I", len(data)) + data)
            if part is token:
                mac.update(struct.pack(">I", len(audiences)))
        return mac.digest()

    def _get(self, key: bytes) -> Record | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return found[1]

    def _add(self, key: bytes, record: Record) -> None:
        if record.error:
            return
        ttl = self.success_ttl if record.user is not None else self.failure_ttl
        if ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + ttl, record)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    async def lookup(self, token: str, audiences: Sequence[str],
                     fetch: Callable[[], Awaitable[Record]]) -> Record:
        """The cached record, or ``await fetch()`` (shared with concurrent lookups), kept."""
        key = self.key(token, audiences)
        while True:
            record = self._get(key)
            if record is not None:
                return record
            flight = self._flights.get(key)
            if flight is None:
                break
            await flight.done.wait()
            if flight.record is not None:
                return flight.record
        flight = self._flights[key] = _Flight()
        try:
            flight.record = await fetch()
            self._add(key, flight.record)
            return flight.record
        finally:
            del self._flights[key]
            flight.done.set()
