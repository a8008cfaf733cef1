"""NamespaceLifecycle admission: no new content in missing or terminating namespaces, and the
immortal namespaces (default, kube-system, kube-public) cannot be deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from kernel.admission import Attributes, MutatingAdmission, Operation
from kernel.context import ServerContext

if TYPE_CHECKING:
    from kernel.server.informers import Informer

Object = dict[str, Any]

IMMORTAL = frozenset({"default", "kube-system", "kube-public"})
FORCE_LIVE_LOOKUP_TTL = 30.0  # kube's forceLiveLookupTTL, seconds


class NamespaceLifecycle(MutatingAdmission):
    """A mutating plugin that changes nothing, as in kube: it refuses in the first phase, before
    any other mutating plugin has done work (or had side effects) for a request that fails."""

    def __init__(self, context: ServerContext) -> None:
        self.context = context
        try:  # created now, so it is listed by the time requests come
            self._informer: Informer | None = context.informer("", "namespaces")
        except KeyError:  # namespaces not served here: always the storage
            self._informer = None
        # Namespaces whose DELETE this plugin admitted, and when: the informer may still show
        # them as they were, so they are looked up live for a while (kube's forceLiveLookupCache).
        self._deleted: dict[str, float] = {}

    def handles(self, operation: Operation) -> bool:
        return operation in ("CREATE", "DELETE")

    async def admit(self, attributes: Attributes) -> None:
        resource = attributes.resource
        if resource.group == "" and resource.resource == "namespaces":
            if attributes.operation == "DELETE":
                if attributes.name in IMMORTAL:
                    raise attributes.forbidden("this namespace may not be deleted")
                self._note_deleted(attributes.name)
            return
        if attributes.operation != "CREATE" or not attributes.namespace:
            return
        namespace = self._cached(attributes.namespace)
        if namespace is None:  # not in the informer (yet), or deleted lately: ask the storage
            namespaces = self.context.store("", "namespaces")
            namespace = await namespaces.get("", attributes.namespace)  # 404 namespaces "x" not found
        if (namespace.get("metadata") or {}).get("deletionTimestamp"):
            raise attributes.forbidden(
                f"unable to create new content in namespace {attributes.namespace} because it is "
                "being terminated",
                [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                  "message": f"namespace {attributes.namespace} is being terminated"}])

    def _cached(self, name: str) -> Object | None:
        """The namespace as the shared informer holds it (kube's lister), without a storage read
        per create; None when it must be read live."""
        if self._informer is None or not self._informer.has_synced:
            return None
        deleted = self._deleted.get(name)
        if deleted is not None:
            if trio.current_time() - deleted < FORCE_LIVE_LOOKUP_TTL:
                return None
            del self._deleted[name]
        return self._informer.get(name)

    def _note_deleted(self, name: str) -> None:
        now = trio.current_time()
        if len(self._deleted) >= 1000:  # forget the expired ones
            self._deleted = {n: t for n, t in self._deleted.items() if now - t < FORCE_LIVE_LOOKUP_TTL}
        self._deleted[name] = now
