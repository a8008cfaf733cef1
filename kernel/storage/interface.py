"""The storage interface, modelled on k8s.io/apiserver/pkg/storage.Interface.

Objects are JSON-compatible dicts (Kubernetes objects with ``metadata``). A backend keeps an
integer revision that increases with every write; an object's ``metadata.resourceVersion`` is the
revision of its last write, rendered as a string. Keys come from :mod:`kernel.storage.keys`.

Ownership: objects *returned* by ``create``/``get``/``get_list``/``guaranteed_update``/``delete``
belong to the caller. Objects in ``WatchEvent``s may be shared between the watchers of one event
(that is what lets the HTTP layer encode an event once): treat them as read-only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from kernel.storage.errors import ConflictError

Object = dict[str, Any]
Predicate = Callable[[Object], bool]
TryUpdate = Callable[[Object], "Object | Awaitable[Object]"]
ValidateDeletion = Callable[[Object], "None | Awaitable[None]"]
EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]


class ListResult(msgspec.Struct):
    items: list[Object]
    revision: int  # the revision the list was read at: the list's metadata.resourceVersion
    continue_from: str | None = None  # token for the next page; None on the last page
    remaining: int | None = None  # items after this page (None when unknown: with a predicate)


class WatchEvent(msgspec.Struct, eq=False):
    """One change. ``object`` is the new state (for DELETED: the last state, with the deletion's
    revision as its resourceVersion); ``prev_object`` the state before the change, if any.

    ``encoded`` is a per-event cache for the HTTP layer: the first encoder of an event stores its
    serialization under a name of its choosing (``"json"``, ``"protobuf"``), every other watcher of
    the same event reuses it. The watch cache hands the same instance to every watcher that sees
    the event the same way.
    """

    type: EventType
    object: Object
    prev_object: Object | None
    revision: int
    key: str = ""
    encoded: dict[str, bytes] = msgspec.field(default_factory=dict)


def bookmark(revision: int) -> WatchEvent:
    """A BOOKMARK: every change up to ``revision`` has been delivered."""
    return WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": str(revision)}}, None, revision)


class Preconditions(msgspec.Struct, frozen=True):
    """Conditions a write checks against the stored object (metav1.Preconditions)."""

    uid: str | None = None
    resource_version: str | None = None

    def check(self, key: str, obj: Object) -> None:
        """Raise ConflictError, with kube's message, when the stored object does not match."""
        metadata = obj.get("metadata") or {}
        if self.uid is not None and self.uid != metadata.get("uid", ""):
            raise ConflictError(key, f"Precondition failed: UID in precondition: {self.uid}, "
                                     f"UID in object meta: {metadata.get('uid', '')}")
        if self.resource_version is not None and \
                self.resource_version != metadata.get("resourceVersion", ""):
            raise ConflictError(key, "Precondition failed: ResourceVersion in precondition: "
                                     f"{self.resource_version}, ResourceVersion in object meta: "
                                     f"{metadata.get('resourceVersion', '')}")


class NamedPredicate:
    """Matches the objects named ``name`` (a ``metadata.name`` field selector) that ``rest``, if
    given, also matches. An object's key ends with ``/<name>``, so a list from memory skips the
    others by their key, without decoding them (an informer of one ConfigMap in 100k)."""

    __slots__ = ("name", "rest")

    def __init__(self, name: str, rest: Predicate | None = None) -> None:
        self.name = name
        self.rest = rest

    def __call__(self, obj: Object) -> bool:
        return (obj.get("metadata") or {}).get("name") == self.name and \
            (self.rest is None or self.rest(obj))


def with_resource_version(obj: Object, revision: int) -> Object:
    """A shallow copy of ``obj`` whose ``metadata.resourceVersion`` is ``revision``."""
    return {**obj, "metadata": {**(obj.get("metadata") or {}), "resourceVersion": str(revision)}}


def filter_event(event: WatchEvent, predicate: Predicate | None) -> WatchEvent | None:
    """``event`` as a watcher with ``predicate`` sees it (kube's watch filtering), or None.

    An object that starts matching arrives as ADDED; one that stops matching as DELETED, carrying
    its last matching state with the event's revision. Returns ``event`` itself when the watcher
    sees it unchanged, so that watchers share one instance (and its ``encoded`` cache).
    """
    if predicate is None or event.type == "BOOKMARK":
        return event
    if event.type == "ADDED":
        return event if predicate(event.object) else None
    if event.type == "DELETED":
        return event if predicate(event.object) else None
    prev = event.prev_object
    now_matches = predicate(event.object)
    before_matched = prev is not None and predicate(prev)
    if now_matches and before_matched:
        return event
    if now_matches:
        return WatchEvent("ADDED", event.object, prev, event.revision, event.key)
    if before_matched:
        assert prev is not None
        return WatchEvent("DELETED", with_resource_version(prev, event.revision), event.object,
                          event.revision, event.key)
    return None


@runtime_checkable
class Storage(Protocol):
    """An MVCC key-value store of Kubernetes objects (k8s.io/apiserver storage.Interface).

    Every method may raise StorageUnavailableError when the backend cannot be reached.
    """

    async def create(self, key: str, obj: Object) -> Object:
        """Store ``obj`` under a new key; return it with its resourceVersion set.

        Any resourceVersion in ``obj`` is ignored; ``obj`` itself is not modified.
        Raises KeyExistsError if the key exists.
        """
        ...

    async def get(self, key: str) -> Object:
        """The current object at ``key``; KeyNotFoundError if there is none."""
        ...

    async def get_list(self, prefix: str, *, revision: int | None = None, limit: int = 0,
                       continue_from: str | None = None,
                       predicate: Predicate | None = None) -> ListResult:
        """The objects under ``prefix`` (a prefix ending with ``/``), in key order.

        ``revision``: None reads the current state (a consistent read); 0 reads any recent state
        (what a cache has, without waiting); N reads exactly at revision N: ResourceExpiredError
        ("The resourceVersion for the provided list is too old.") when N was compacted,
        TooLargeResourceVersionError when N is in the future.
        ``limit`` > 0 returns at most that many *matching* items and a ``continue_from`` token
        when more keys remain; passing the token back returns the next page read at the first
        page's revision (the token overrides ``revision``). A token whose revision was compacted
        raises ResourceExpiredError whose ``continue_token`` continues at the latest revision; a
        malformed token raises InvalidContinueError.
        ``remaining`` counts the objects after the page when there is no predicate.
        """
        ...

    async def guaranteed_update(self, key: str, try_update: TryUpdate, *,
                                preconditions: Preconditions | None = None,
                                ignore_not_found: bool = False) -> Object:
        """Read-modify-write with optimistic concurrency; return the stored result.

        ``try_update`` gets a private copy of the current object (with its resourceVersion) and
        returns the new object (sync or async); it may raise to abort, and the error propagates.
        If another write lands in between, the current object is re-read and ``try_update`` runs
        again. A result equal to the stored content is a no-op that keeps the resourceVersion.
        ``preconditions`` are checked against each read (ConflictError). A missing key raises
        KeyNotFoundError, unless ``ignore_not_found``: then ``try_update`` gets ``{}`` and the
        result is created.
        """
        ...

    async def delete(self, key: str, *, preconditions: Preconditions | None = None,
                     validate_deletion: ValidateDeletion | None = None) -> Object:
        """Delete ``key``; return the deleted object with the deletion's resourceVersion.

        ``validate_deletion`` sees the current object and may raise to abort; like
        ``preconditions`` it is re-run when a concurrent write forces a retry.
        """
        ...

    def watch(self, prefix: str, *, revision: int, predicate: Predicate | None = None,
              bookmarks: bool = False, progress_notify: bool = False,
              deadline: float | None = None,
              ) -> AbstractAsyncContextManager[AsyncIterator[WatchEvent]]:
        """Changes under ``prefix`` strictly after ``revision``, in revision order.

        ``revision`` 0 means from now. Entering the context raises ResourceExpiredError when
        ``revision`` is older than the retained history. With ``predicate``, changes are
        filtered as :func:`filter_event` says. ``bookmarks`` asks for periodic BOOKMARK events (a
        backend may ignore it; the watch cache honours it, and with ``deadline``, the
        ``trio.current_time()`` at which the consumer will end the watch, sends one 2 s before
        it as kube's cacheWatcher does); ``progress_notify`` asks for a
        BOOKMARK soon after the store's revision moves past the watch's last event, so a
        consumer knows how fresh it is (the watch cache needs this for consistent reads). A
        backend may instead give that BOOKMARK promptly only on request: then the iterator has a
        ``request_progress()`` method, which the watch cache calls when a read waits for it. A
        backend that cannot promise such BOOKMARKs come only after the events they cover (etcd
        before 3.4.31 / 3.5.13) has ``watch_progress = False``: the watch cache then sends
        reads that need the latest state to the backend. The iterator may also have a
        ``ready(limit)`` method: up to ``limit`` more events that are due without waiting, in
        order (bookmarks and the end of the watch may stay with the iterator), which the watch
        cache dispatches together with the one it just got.
        The iterator ends when the context exits or the store closes; it raises
        ResourceExpiredError if the watch falls behind the retained history.
        """
        ...

    async def current_revision(self) -> int:
        """The store's latest revision."""
        ...

    async def compact(self, revision: int) -> None:
        """Discard history before ``revision``: reads at older revisions and watches from older
        revisions then raise ResourceExpiredError."""
        ...

    async def health(self) -> None:
        """Return if the store can serve; raise StorageUnavailableError otherwise."""
        ...

    async def close(self) -> None:
        """Release resources; open watches end."""
        ...
