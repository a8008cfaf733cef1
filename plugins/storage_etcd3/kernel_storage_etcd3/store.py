"""The etcd3 storage backend: kernel.storage.Storage on etcd's KV and Watch APIs.

Modelled on k8s.io/apiserver/pkg/storage/etcd3/store.go:

- resourceVersion is the key's mod revision; an empty store is at revision 1, as etcd is;
- create is a transaction "mod revision == 0 → put"; guaranteed_update reads, applies
  ``try_update`` and writes with a transaction "mod revision unchanged → put, else get", retrying
  on the state the failed transaction returned, so concurrent writers never lose an update;
- delete is "mod revision unchanged → delete with prev_kv" (or a plain delete with prev_kv when
  nothing needs checking), returning the deleted object at the deletion's revision;
- lists read a key range at one revision (the current one, or the continue token's) in pages of
  ``limit``, growing the batch when a predicate filters items out;
- watches share one gRPC stream (see :mod:`kernel_storage_etcd3.watch`).

Every KV call is one gRPC request written and read by the trio thread over the endpoint's HTTP/2
connection (:mod:`kernel_storage_etcd3.transport`): one request per API operation in the common
case, no thread. Events under a prefix of ``ttls`` (kube's --event-ttl) are written with an etcd
lease (:mod:`kernel_storage_etcd3.lease_manager`). A connection failure is a
StorageUnavailableError (503) at once, a deadline a StorageTimeoutError (504); nothing waits for
etcd to come back, and the next call simply connects again. Reads are retried once on the next
endpoint when there are several.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import trio

from kernel.storage.continuation import LATEST, decode_continue, encode_continue
from kernel.storage.errors import (
    EXPIRED_LIST, EXPIRED_WATCH, INCONSISTENT_CONTINUE, KeyExistsError, KeyNotFoundError,
    ResourceExpiredError, StorageUnavailableError, TooLargeResourceVersionError,
)
from kernel.storage.interface import (
    ListResult, Object, Predicate, Preconditions, TryUpdate, ValidateDeletion, WatchEvent,
)

from kernel_storage_etcd3 import codec, transport
from kernel_storage_etcd3.config import Endpoints, EtcdConfig, normalize_prefix
from kernel_storage_etcd3.etcdpb import rpc as etcdrpc
from kernel_storage_etcd3.errors import (
    Compacted, FutureRevision, is_connection_failure, translate,
)
from kernel_storage_etcd3.lease_manager import LeaseManager
from kernel_storage_etcd3.watch import Etcd3Watch, WatchStream


# etcd defers a progress request while a watch on the stream catches up, and may then answer it
# only along with its next response: an unanswered request is repeated after this long (kube's
# progress requester asks every 100 ms while a read waits).
PROGRESS_RETRY = 0.1
MAX_BATCH = 10000  # the largest range read while filling a filtered page (kube's maxLimit)
_EQUAL, _MOD = etcdrpc.Compare.EQUAL, etcdrpc.Compare.MOD
# etcd's unary methods the store calls
RANGE = transport.Method(b"/etcdserverpb.KV/Range", etcdrpc.RangeResponse)
TXN = transport.Method(b"/etcdserverpb.KV/Txn", etcdrpc.TxnResponse)
DELETE_RANGE = transport.Method(b"/etcdserverpb.KV/DeleteRange", etcdrpc.DeleteRangeResponse)
COMPACT = transport.Method(b"/etcdserverpb.KV/Compact", etcdrpc.CompactionResponse)
LEASE_GRANT = transport.Method(b"/etcdserverpb.Lease/LeaseGrant", etcdrpc.LeaseGrantResponse)
STATUS = transport.Method(b"/etcdserverpb.Maintenance/Status", etcdrpc.StatusResponse)


class Etcd3Storage:
    """The ``etcd3`` storage backend. Any number of kernel servers may share one etcd."""

    lists_encoded = True  # get_list(encoded=True) is understood (the watch cache asks for it)

    def __init__(self, config: EtcdConfig, *, ttls: Mapping[str, float] = {}) -> None:
        self.config = config
        self.keys = codec.Keys(normalize_prefix(config.prefix))
        self._endpoints = Endpoints(config.servers)
        tls = transport.client_ssl_context(config.ca_file, config.cert_file, config.key_file) \
            if any(server.secure for server in config.servers) else None
        self._channels = {label: transport.Channel(server.host, server.port,
                                                   tls if server.secure else None)
                          for label, server in self._endpoints.servers.items()}
        # Keys under a prefix of ``ttls`` are written with a lease of that many seconds (kube's
        # --event-ttl); etcd's leases are whole seconds.
        self.ttls = {prefix: max(1, math.ceil(ttl)) for prefix, ttl in ttls.items() if ttl > 0}
        self._leases = LeaseManager(self._grant)
        self._stream: WatchStream | None = None
        self._progress_wanted = 0  # the newest revision a consistent read waits for
        self._versions: dict[str, str] = {}  # etcd's version at each endpoint that answered
        # Whether etcd answers progress requests truthfully (see check_watch_progress); the
        # watch cache serves consistent reads from memory only then.
        self.watch_progress = False
        self.closed = False

    @property
    def endpoint(self) -> str:
        """The etcd endpoint in use (``host:port``)."""
        return self._endpoints.current

    # -- calling etcd --------------------------------------------------------------------------

    async def _rpc(self, key: str, method: transport.Method, request: Any, *, retry: bool = False,
                   timeout: float | None = None) -> Any:
        """One unary etcd request from the trio thread (:mod:`kernel_storage_etcd3.transport`);
        failures as storage errors.

        ``retry``: an idempotent read, tried once more on the next endpoint after a connection
        failure (when there is more than one).
        """
        attempts = 2 if retry and len(self.config.servers) > 1 else 1
        for attempt in range(attempts):
            if self.closed:
                raise StorageUnavailableError(key, "the etcd storage is closed")
            endpoint = self._endpoints.current
            try:
                return await self._channels[endpoint].call(
                    method, request, timeout or self.config.request_timeout)
            except Exception as error:
                if is_connection_failure(error):
                    self._endpoints.failover(endpoint)
                    if attempt + 1 < attempts:
                        continue
                raise translate(error, key, endpoint) from None
        raise AssertionError("unreachable")

    async def _range(self, key: str, request: Any) -> Any:
        return await self._rpc(key, RANGE, request, retry=True)

    async def _txn(self, key: str, request: Any) -> Any:
        return await self._rpc(key, TXN, request)

    async def _get_kv(self, key: str, etcd_key: bytes) -> Any | None:
        response = await self._range(key, etcdrpc.RangeRequest(key=etcd_key))
        return response.kvs[0] if response.kvs else None

    async def _grant(self, ttl: int) -> int:
        response = await self._rpc("", LEASE_GRANT, etcdrpc.LeaseGrantRequest(TTL=ttl))
        return int(response.ID)

    async def _put(self, key: str, etcd_key: bytes, data: bytes) -> Any:
        """The put of ``data`` at ``etcd_key``: with a lease when ``key`` has a TTL."""
        lease = 0
        for prefix, ttl in self.ttls.items():
            if key.startswith(prefix):
                lease = await self._leases.get_lease(ttl)
                break
        return etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=etcd_key, value=data,
                                                                lease=lease))

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, key: str) -> Object:
        kv = await self._get_kv(key, self.keys.to_etcd(key))
        if kv is None:
            raise KeyNotFoundError(key)
        return codec.decode(key, kv.value, kv.mod_revision)

    async def current_revision(self) -> int:
        """etcd's current revision (a linearizable read).

        Open watches asked for progress notifications are then told to report up to it, when etcd
        does that truthfully (``watch_progress``): this is how the watch cache learns promptly
        that it is as fresh as etcd (kube's RequestWatchProgress).
        """
        response = await self._range("", etcdrpc.RangeRequest(key=self.keys.health_key,
                                                              count_only=True))
        revision = int(response.header.revision)
        self.want_progress(revision)
        return revision

    async def get_list(self, prefix: str, *, revision: int | None = None, limit: int = 0,
                       continue_from: str | None = None,
                       predicate: Predicate | None = None, encoded: bool = False) -> ListResult:
        """``encoded`` (without a predicate): items are ``msgspec.Raw`` JSON, not decoded."""
        raw = encoded and predicate is None
        start = prefix
        if continue_from:
            start, token_revision = decode_continue(continue_from, prefix)
            revision = None if token_revision == LATEST else token_revision
        read_at = revision or None  # None and 0: the current state
        begin, end = self.keys.to_etcd(start), self.keys.range_end(self.keys.to_etcd(prefix))
        items: list[Object] = []
        last = b""
        has_more = False
        batch = limit
        while True:
            try:
                response = await self._range(prefix, etcdrpc.RangeRequest(
                    key=begin, range_end=end, limit=batch, revision=read_at or 0))
            except Compacted:
                if continue_from:
                    raise ResourceExpiredError(prefix, INCONSISTENT_CONTINUE,
                                               continue_token=encode_continue(start, prefix, LATEST)
                                               ) from None
                raise ResourceExpiredError(prefix, EXPIRED_LIST) from None
            except FutureRevision:
                assert read_at is not None
                raise TooLargeResourceVersionError(
                    prefix, revision=read_at, current=await self.current_revision()) from None
            if read_at is None:
                read_at = int(response.header.revision)  # later batches read the same snapshot
            for kv in response.kvs:
                if limit and len(items) >= limit:
                    has_more = True
                    break
                last = kv.key
                if raw:
                    items.append(codec.encoded(self.keys, kv))
                    continue
                obj = codec.decode(self.keys.to_kernel(kv.key), kv.value, kv.mod_revision)
                if predicate is None or predicate(obj):
                    items.append(obj)
            if has_more or not response.more:
                break
            if limit and len(items) >= limit:  # the page is full and etcd has more keys
                has_more = True
                break
            begin = last + b"\x00"
            batch = min(batch * 2, MAX_BATCH)
        if not has_more:
            return ListResult(items, read_at)
        remaining = None if predicate is not None else int(response.count) - len(response.kvs)
        token = encode_continue(self.keys.to_kernel(last) + "\x00", prefix, read_at)
        return ListResult(items, read_at, token, remaining)

    # -- writes --------------------------------------------------------------------------------

    async def create(self, key: str, obj: Object) -> Object:
        data = codec.encode(obj)
        etcd_key = self.keys.to_etcd(key)
        response = await self._txn(key, etcdrpc.TxnRequest(
            compare=[_unchanged(etcd_key, 0)], success=[await self._put(key, etcd_key, data)]))
        if not response.succeeded:
            raise KeyExistsError(key)
        return codec.decode(key, data, response.header.revision)

    async def guaranteed_update(self, key: str, try_update: TryUpdate, *,
                                preconditions: Preconditions | None = None,
                                ignore_not_found: bool = False) -> Object:
        etcd_key = self.keys.to_etcd(key)
        kv = await self._get_kv(key, etcd_key)
        while True:
            if kv is None:
                if not ignore_not_found:
                    raise KeyNotFoundError(key)
                current: Object = {}
                mod_revision = 0
            else:
                current = codec.decode(key, kv.value, kv.mod_revision)
                mod_revision = kv.mod_revision
            if preconditions is not None:
                preconditions.check(key, current)
            result = try_update(current)
            if inspect.isawaitable(result):
                result = await result
            data = codec.encode(result)
            if kv is not None and data == kv.value:
                return codec.decode(key, data, mod_revision)  # no change: no write
            response = await self._txn(key, etcdrpc.TxnRequest(
                compare=[_unchanged(etcd_key, mod_revision)],
                success=[await self._put(key, etcd_key, data)], failure=[_get(etcd_key)]))
            if response.succeeded:
                return codec.decode(key, data, response.header.revision)
            kv = _ranged(response)  # someone else wrote first: retry on what they wrote

    async def delete(self, key: str, *, preconditions: Preconditions | None = None,
                     validate_deletion: ValidateDeletion | None = None) -> Object:
        etcd_key = self.keys.to_etcd(key)
        if preconditions is None and validate_deletion is None:
            response = await self._rpc(key, DELETE_RANGE,
                                       etcdrpc.DeleteRangeRequest(key=etcd_key, prev_kv=True))
            return self._deleted(key, response, response.header.revision)
        kv = await self._get_kv(key, etcd_key)
        while True:
            if kv is None:
                raise KeyNotFoundError(key)
            current = codec.decode(key, kv.value, kv.mod_revision)
            if preconditions is not None:
                preconditions.check(key, current)
            if validate_deletion is not None:
                outcome = validate_deletion(current)
                if inspect.isawaitable(outcome):
                    await outcome
            delete = etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(
                key=etcd_key, prev_kv=True))
            response = await self._txn(key, etcdrpc.TxnRequest(
                compare=[_unchanged(etcd_key, kv.mod_revision)], success=[delete],
                failure=[_get(etcd_key)]))
            if response.succeeded:
                return self._deleted(key, response.responses[0].response_delete_range,
                                     response.header.revision)
            kv = _ranged(response)

    def _deleted(self, key: str, response: Any, revision: int) -> Object:
        if not response.deleted or not response.prev_kvs:
            raise KeyNotFoundError(key)
        return codec.decode(key, response.prev_kvs[0].value, revision)

    # -- history -------------------------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        try:
            await self._rpc("", COMPACT, etcdrpc.CompactionRequest(revision=revision))
        except Compacted:
            pass  # already compacted at or past it
        except FutureRevision:
            await self.compact(await self.current_revision())

    async def check_watchable(self, prefix: str, revision: int, *, resume: bool = False) -> None:
        """ResourceExpiredError if a watch of ``prefix`` from after ``revision`` cannot start.

        A new watch needs ``revision`` itself retained, as the Storage contract says (etcd
        would start one from the compacted revision - 1); a watch resuming after a broken
        stream only needs what etcd needs, the next revision.
        """
        etcd_prefix = self.keys.to_etcd(prefix)
        try:
            await self._range(prefix, etcdrpc.RangeRequest(
                key=etcd_prefix, range_end=self.keys.range_end(etcd_prefix),
                revision=revision + 1 if resume else revision, count_only=True))
        except Compacted:
            raise ResourceExpiredError(prefix, EXPIRED_WATCH) from None
        except FutureRevision:
            pass  # revision is the current one: the watch starts with the next write

    # -- watch ---------------------------------------------------------------------------------

    def watch(self, prefix: str, *, revision: int, predicate: Predicate | None = None,
              bookmarks: bool = False, progress_notify: bool = False,
              deadline: float | None = None,
              ) -> AbstractAsyncContextManager[AsyncIterator[WatchEvent]]:
        # Periodic bookmarks (and the deadline they precede) are optional for a backend; the watch cache makes them for clients.
        return Etcd3Watch(self, prefix, revision, predicate, progress_notify)

    async def watch_stream(self) -> WatchStream:
        """The shared Watch stream, opened (again) if there is none or it ended."""
        while True:
            if self.closed:
                raise StorageUnavailableError("", "the etcd storage is closed")
            stream, token = self._stream, trio.lowlevel.current_trio_token()
            if stream is not None and stream.alive and stream.token is token:
                return stream
            if stream is not None:
                stream.close()  # of an earlier trio run
            endpoint = self._endpoints.current
            try:
                connection = await self._channels[endpoint].connection(self.config.request_timeout)
            except transport.CallError as error:
                self._endpoints.failover(endpoint)
                raise translate(error, "", endpoint) from None
            if self._stream is stream:  # no other task opened one meanwhile
                self._stream = WatchStream(self, connection, endpoint)

    def stream_ended(self, stream: WatchStream, error: BaseException | None) -> None:
        """Called by a stream that broke: the next watch opens a new one (on the next endpoint
        if this one failed)."""
        if error is not None and is_connection_failure(error):
            self._endpoints.failover(stream.endpoint)
        if self._stream is stream:
            self._stream = None

    async def check_watch_progress(self) -> None:
        """Learn whether every etcd endpoint answers progress requests truthfully (kube's
        RequestWatchProgress feature check): etcd 3.4.31+ or 3.5.13+ (etcd-io/etcd#15220,
        #17507), read from each endpoint's Status once it answers; unknown counts as no."""
        for label, channel in self._channels.items():
            if label not in self._versions and not self.closed:
                try:
                    status = await channel.call(STATUS, etcdrpc.StatusRequest(),
                                                self.config.request_timeout)
                except Exception:  # noqa: BLE001 - not reachable now: asked again next watch
                    continue
                self._versions[label] = status.version
        self.watch_progress = len(self._versions) == len(self._channels) and \
            all(answers_progress_truthfully(v) for v in self._versions.values())

    def want_progress(self, revision: int) -> None:
        """Ask etcd for a progress notification if a progress-notify watch is behind ``revision``."""
        if not self.watch_progress:
            return
        self._progress_wanted = max(self._progress_wanted, revision)
        stream = self._stream
        if stream is not None and stream.alive and \
                trio.current_time() - stream.progress_asked >= PROGRESS_RETRY and \
                stream.behind(self._progress_wanted):
            stream.request_progress()

    def progress_answered(self, stream: WatchStream, revision: int) -> None:
        if self._progress_wanted > revision and stream.behind(self._progress_wanted):
            stream.request_progress()

    # -- health and lifecycle ------------------------------------------------------------------

    async def check(self, timeout: float) -> None:
        """kube's etcd health check: a read of ``<prefix>/health`` within ``timeout``."""
        request = etcdrpc.RangeRequest(key=self.keys.health_key, count_only=True)
        await self._rpc("", RANGE, request, timeout=timeout)

    async def health(self) -> None:
        await self.check(self.config.healthcheck_timeout)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._stream is not None:
            self._stream.close()
        for channel in self._channels.values():
            channel.close()
        await trio.lowlevel.checkpoint()

    def __repr__(self) -> str:
        servers = ",".join(str(server) for server in self.config.servers)
        return f"Etcd3Storage(servers={servers}, prefix={self.keys.root or '/'})"


def answers_progress_truthfully(version: str) -> bool:
    """Whether an etcd of ``version`` sends a requested progress notification only after the
    events up to its revision (3.4.31+, 3.5.13+, 3.6+); an unparsable version counts as no."""
    try:
        numbers = tuple(int(part) for part in version.split("-")[0].split(".")[:3])
    except ValueError:
        return False
    if len(numbers) != 3:
        return False
    return numbers >= (3, 5, 13) or (3, 4, 31) <= numbers < (3, 5, 0)


def _unchanged(etcd_key: bytes, mod_revision: int) -> Any:
    """The compare "``etcd_key``'s mod revision is ``mod_revision``" (0: the key does not exist)."""
    return etcdrpc.Compare(result=_EQUAL, target=_MOD, key=etcd_key, mod_revision=mod_revision)


def _get(etcd_key: bytes) -> Any:
    return etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=etcd_key))


def _ranged(response: Any) -> Any | None:
    """The key-value read by a failed transaction's get (None: the key is gone)."""
    kvs = response.responses[0].response_range.kvs
    return kvs[0] if kvs else None
