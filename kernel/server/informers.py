"""In-process informers over the watch cache (client-go's shared informers, in the kernel).

An :class:`Informer` keeps a resource's objects in memory and tells handlers what changed. Two
tasks per informer, so a slow handler never stalls the watch cache or the store:

- the *reflector* lists the resource from its :class:`~kernel.storage.cacher.Cacher` and follows
  one cache watch from the list's revision, applying every event to the store and its indexes at
  once (``get``/``list``/``by_index`` are as fresh as the cache's watch), then queueing it;
- the *dispatcher* calls the handlers for the queued events, one event at a time, in order.

The queue is bounded (``buffer`` events). When a handler falls that far behind, the queue is
dropped and the handlers are resynced from the store instead (the relist of client-go, taken from
the informer's own store, which is never behind): each handler is told the difference between what
it was last told and the current state, as adds, updates and deletes. The same resync follows a
relist from the cache, after a 410 (the cache was re-initialized or dropped the informer's
watch), and after the cache closed and another took its place: so handlers converge on the
cache's state (client-go's Replace). A resync delivers only real changes (a different
resourceVersion), and a delete found by a resync hands over the last state the informer knew.

**Objects carry no managedFields**, as kube-apiserver's own informers (its ``trim`` transform):
no in-process reader needs them, and on small objects such as RBAC roles they are often the
larger part. An update made from an informer's object leaves the stored managedFields as they are
(absent in a request means "keep").

**Objects are read-only.** The informer keeps one decoded dict per object and hands out that
same dict from ``get``/``list``/``by_index`` and to handlers; objects that came from a watch
event are also shared with the watch cache's event window and with other watchers. Never mutate
them: ``copy.deepcopy`` first (client-go's rule for its caches). They are not copied because a
copy per read or per handler would cost what the cache saves.

Handlers of one informer run in one task, in the order they were added, each event in turn; a
handler may be a plain or an async callable. An exception in a handler is logged and the next
handler runs. A handler added at any time is first given the current objects as adds (client-go
semantics), then every event after them.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import trio

from kernel.storage.cacher import Cacher
from kernel.storage.errors import ResourceExpiredError, StorageError, WatchTooSlowError
from kernel.storage.interface import NamedPredicate, Object, WatchEvent

log = logging.getLogger("kernel.server.informers")

IndexFunc = Callable[[Object], list[str]]
Handler = Callable[..., "Awaitable[None] | None"]
NAMESPACE_INDEX = "namespace"


def object_key(obj: Object) -> str:
    """client-go's MetaNamespaceKeyFunc: ``namespace/name``, or ``name`` when cluster-scoped."""
    metadata = obj["metadata"]
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else metadata["name"]


def _namespace_of(obj: Object) -> list[str]:
    return [obj["metadata"].get("namespace") or ""]


def _trim(obj: Object) -> Object:
    """``obj`` without metadata.managedFields (a shallow copy: the dict may be shared)."""
    metadata = obj.get("metadata")
    if metadata is None or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


def _resource_version(obj: Object) -> str:
    return obj["metadata"].get("resourceVersion", "")


class Registration(msgspec.Struct, eq=False):
    """A handler added with :meth:`Informer.add_event_handler` (client-go's registration)."""

    on_add: Handler | None
    on_update: Handler | None
    on_delete: Handler | None
    _synced: trio.Event = msgspec.field(default_factory=trio.Event)

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        """Until this handler has been given every object of the informer's first list."""
        await self._synced.wait()


class _Index:
    """One named index: value -> keys, and key -> the values it is filed under (to unfile it)."""

    def __init__(self, fn: IndexFunc) -> None:
        self.fn = fn
        self.keys: dict[str, set[str]] = {}
        self.values: dict[str, list[str]] = {}

    def put(self, key: str, obj: Object) -> None:
        self.remove(key)
        try:
            values = list(self.fn(obj))
        except Exception:  # a broken index function must not stop the reflector
            log.exception("index function failed for %s; not indexed", key)
            values = []
        self.values[key] = values
        for value in values:
            self.keys.setdefault(value, set()).add(key)

    def remove(self, key: str) -> None:
        for value in self.values.pop(key, ()):
            keys = self.keys[value]
            keys.discard(key)
            if not keys:
                del self.keys[value]


class Informer:
    """A resource's objects in memory, with handlers and indexers; see the module docstring.

    ``source`` is the resource's Cacher, or a callable returning the current one (looked up again
    on every relist, so an informer follows a cache that was closed and replaced). With
    ``object_name`` it holds only the objects of that name (a ``metadata.name`` field selector):
    a controller of one well-known object does not keep every object of the resource.
    """

    def __init__(self, source: Cacher | Callable[[], Cacher], *, buffer: int = 1000,
                 retry_interval: float = 1.0, name: str = "",
                 object_name: str | None = None) -> None:
        self._resolve: Callable[[], Cacher] = source if callable(source) else (lambda: source)
        self.buffer = max(1, buffer)
        self.retry_interval = retry_interval
        self.name = name or self._resolve().prefix
        self.object_name = object_name
        self.revision = 0  # the store reflects every change up to here
        self.relists = 0  # lists after the first (410s, restarts of the cache): for tests, metrics
        self.resyncs = 0  # times the handlers were resynced from the store
        self._objects: dict[str, Object] = {}
        self._indexes: dict[str, _Index] = {NAMESPACE_INDEX: _Index(_namespace_of)}
        self._synced = trio.Event()
        self._running = False
        # The dispatcher's side.
        self._events: deque[tuple[str, Object, bool]] = deque()  # (key, object, deleted)
        self._resync = False
        self._delivered: dict[str, Object] = {}  # what the handlers were last told, per key
        self._handlers: list[Registration] = []
        self._pending: deque[Registration] = deque()  # added, not yet given the current objects
        self._handlers_synced = False
        self._wake = trio.Event()

    # -- reading -----------------------------------------------------------------------------

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        """Until the store holds the first list (client-go's HasSynced)."""
        await self._synced.wait()

    def get(self, name: str, namespace: str = "") -> Object | None:
        return self._objects.get(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str | None = None) -> list[Object]:
        """Every object (by key), or a namespace's; read-only (see the module docstring)."""
        if namespace is None:
            return [self._objects[key] for key in sorted(self._objects)]
        return self.by_index(NAMESPACE_INDEX, namespace)

    def keys(self) -> list[str]:
        return sorted(self._objects)

    def __len__(self) -> int:
        return len(self._objects)

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Index the objects by ``fn(obj)`` (a list of values), kept current on every change."""
        if name in self._indexes:
            raise ValueError(f"indexer {name!r} already exists")
        index = self._indexes[name] = _Index(fn)
        for key, obj in self._objects.items():
            index.put(key, obj)

    def by_index(self, name: str, value: str) -> list[Object]:
        try:
            index = self._indexes[name]
        except KeyError:
            raise KeyError(f"no indexer named {name!r}") from None
        return [self._objects[key] for key in sorted(index.keys.get(value, ()))]

    # -- handlers ----------------------------------------------------------------------------

    def add_event_handler(self, on_add: Handler | None = None, on_update: Handler | None = None,
                          on_delete: Handler | None = None) -> Registration:
        """``on_add(obj)``, ``on_update(old, new)``, ``on_delete(obj)``; plain or async."""
        registration = Registration(on_add, on_update, on_delete)
        self._pending.append(registration)
        self._wake.set()
        return registration

    # -- running -----------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Reflect and dispatch until cancelled; ``started`` at once (see ``wait_synced``)."""
        if self._running:
            raise RuntimeError(f"informer {self.name} is already running")
        self._running = True
        try:
            await self._run(task_status)
        finally:
            self._running = False

    async def _run(self, task_status: Any) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._dispatch)
            nursery.start_soon(self._reflect)
            task_status.started()

    async def _reflect(self) -> None:
        failing = False
        while True:
            try:
                cacher = self._resolve()
                await cacher.wait_ready()
                await self._relist(cacher)
                if failing:
                    log.info("informer %s: listed again", self.name)
                    failing = False
                async with cacher.watch(cacher.prefix, revision=self.revision) as events:
                    async for event in events:
                        self._apply(event)
                # The watch ended without an error: the cache closed. Find its successor.
            except (ResourceExpiredError, WatchTooSlowError):
                continue  # the cache restarted or dropped us: relist now
            except (StorageError, LookupError) as error:  # LookupError: no cache right now
                if not failing:  # once per outage
                    log.warning("informer %s: cannot list or watch, retrying every %gs: %s",
                                self.name, self.retry_interval, getattr(error, "message", error))
                    failing = True
            await trio.sleep(self.retry_interval)

    async def _relist(self, cacher: Cacher) -> None:
        # Of one name: the cache picks its objects by key instead of decoding every object.
        predicate = NamedPredicate(self.object_name) if self.object_name is not None else None
        listed = await cacher.get_list(cacher.prefix, predicate=predicate)
        if self._synced.is_set():
            self.relists += 1
        fresh: dict[str, Object] = {}
        for obj in listed.items:
            if not self._wanted(obj):
                continue
            key = object_key(obj)
            known = self._objects.get(key)
            # Unchanged objects keep their dict: one per object, and no update for them.
            same = known is not None and _resource_version(known) == _resource_version(obj)
            fresh[key] = known if same else _trim(obj)  # type: ignore[assignment]
        for key in self._objects.keys() - fresh.keys():
            self._remove(key)
        for key, obj in fresh.items():
            if self._objects.get(key) is not obj:
                self._put(key, obj)
        self.revision = listed.revision
        self._request_resync()
        self._synced.set()

    def _apply(self, event: WatchEvent) -> None:
        """One watch event into the store and the handlers' queue (synchronous: no await)."""
        if event.type != "BOOKMARK" and self._wanted(event.object):
            obj = _trim(event.object)
            key = object_key(obj)
            deleted = event.type == "DELETED"
            if deleted:
                self._remove(key)
            else:
                self._put(key, obj)
            if len(self._events) >= self.buffer:
                log.warning("informer %s: handlers fell %d events behind; resyncing them",
                            self.name, self.buffer)
                self._request_resync()
            else:
                self._events.append((key, obj, deleted))
                self._wake.set()
        self.revision = max(self.revision, event.revision)

    def _wanted(self, obj: Object) -> bool:
        return self.object_name is None or obj["metadata"].get("name") == self.object_name

    def _put(self, key: str, obj: Object) -> None:
        self._objects[key] = obj
        for index in self._indexes.values():
            index.put(key, obj)

    def _remove(self, key: str) -> None:
        if self._objects.pop(key, None) is not None:
            for index in self._indexes.values():
                index.remove(key)

    def _request_resync(self) -> None:
        """Queued events are superseded by the store: the dispatcher diffs against it instead."""
        self._events.clear()
        self._resync = True
        self._wake.set()

    # -- the dispatcher ----------------------------------------------------------------------

    async def _dispatch(self) -> None:
        while True:
            if self._pending:
                await self._introduce(self._pending.popleft())
            elif self._resync:
                await self._resync_handlers()
            elif self._events:
                await self._deliver(*self._events.popleft())
            else:
                await self._wake.wait()
                self._wake = trio.Event()

    async def _introduce(self, registration: Registration) -> None:
        """A new handler: the objects the others were told of, as adds; then it is one of them."""
        for key in sorted(self._delivered):
            await _call(registration.on_add, self._delivered[key])
        self._handlers.append(registration)
        if self._handlers_synced:
            registration._synced.set()

    async def _resync_handlers(self) -> None:
        self._resync = False
        self.resyncs += 1
        # Taken together with the queue's clearing in _request_resync: the events queued from
        # here on are all newer than this snapshot.
        snapshot = dict(self._objects)
        self._events.clear()
        for key in sorted(self._delivered.keys() - snapshot.keys()):
            await self._deliver(key, self._delivered[key], True)
        for key in sorted(snapshot):
            await self._deliver(key, snapshot[key], False)
        if not self._handlers_synced and self._synced.is_set():
            self._handlers_synced = True
            for registration in self._handlers:
                registration._synced.set()

    async def _deliver(self, key: str, obj: Object, deleted: bool) -> None:
        """Tell every handler, judged against what they were last told of ``key``, so an event
        already reflected by a resync is not told twice."""
        old = self._delivered.get(key)
        if deleted:
            if old is None:
                return
            del self._delivered[key]
            for registration in list(self._handlers):
                await _call(registration.on_delete, obj)
        elif old is None:
            self._delivered[key] = obj
            for registration in list(self._handlers):
                await _call(registration.on_add, obj)
        elif old is not obj and _resource_version(old) != _resource_version(obj):
            self._delivered[key] = obj
            for registration in list(self._handlers):
                await _call(registration.on_update, old, obj)


async def _call(handler: Handler | None, *args: Object) -> None:
    if handler is None:
        await trio.lowlevel.checkpoint()
        return
    try:
        result = handler(*args)
        if inspect.isawaitable(result):
            await result
        else:
            await trio.lowlevel.checkpoint()  # let the reflector in between plain handlers
    except Exception:
        log.exception("informer handler %r failed", handler)


class InformerFactory:
    """One shared :class:`Informer` per resource (client-go's SharedInformerFactory).

    ``cachers`` maps ``(group, resource)`` to the resource's Cacher, or is a callable that
    returns it; it is consulted again on every relist. Informers asked for before :meth:`run`
    start when it does; those asked for while it runs start at once, in its nursery.
    """

    def __init__(self, cachers: Mapping[tuple[str, str], Cacher] | Callable[[str, str], Cacher],
                 *, buffer: int = 1000, retry_interval: float = 1.0) -> None:
        self._cachers = cachers
        self.buffer = buffer
        self.retry_interval = retry_interval
        self._informers: dict[tuple[str, str, str | None], Informer] = {}
        self._nursery: trio.Nursery | None = None

    def _lookup(self, group: str, resource: str) -> Cacher:
        if callable(self._cachers):
            return self._cachers(group, resource)
        return self._cachers[(group, resource)]

    def informer(self, group: str, resource: str, object_name: str | None = None) -> Informer:
        """The shared informer of a resource; with ``object_name``, of its objects of that name."""
        informer = self._informers.get((group, resource, object_name))
        if informer is None:
            self._lookup(group, resource)  # an unknown resource fails here, not in a task
            name = f"{resource}.{group}" if group else resource
            informer = Informer(lambda: self._lookup(group, resource), buffer=self.buffer,
                                retry_interval=self.retry_interval,
                                name=name if object_name is None else f"{name} named {object_name}",
                                object_name=object_name)
            self._informers[(group, resource, object_name)] = informer
            if self._nursery is not None:
                self._nursery.start_soon(informer.run)
        return informer

    async def wait_synced(self) -> None:
        """Until every informer asked for so far has synced."""
        for informer in list(self._informers.values()):
            await informer.wait_synced()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run the informers until cancelled."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for informer in self._informers.values():
                    nursery.start_soon(informer.run)
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
