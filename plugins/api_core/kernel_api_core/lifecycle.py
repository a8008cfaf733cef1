"""NamespaceLifecycle admission: no new content in missing or terminating namespaces, and the
immortal namespaces (default, kube-system, kube-public) cannot be deleted.

As in kube, the namespace is looked up in the namespaces informer, and in the store (a quorum
read on etcd) only when the informer does not have it (not yet seen, or not synced) or when this
server admitted its deletion less than 30 s ago (kube's forceLiveLookupCache), when the informer
may still show it active.
"""

from __future__ import annotations

import time
from typing import Any

from kernel.admission import Attributes, MutatingAdmission, Operation
from kernel.context import ServerContext

IMMORTAL = frozenset({"default", "kube-system", "kube-public"})
FORCE_LIVE_LOOKUP_TTL = 30.0


class NamespaceLifecycle(MutatingAdmission):
    """A mutating plugin that changes nothing, as in kube: it refuses in the first phase, before
    any other mutating plugin has done work (or had side effects) for a request that fails."""

    def __init__(self, context: ServerContext) -> None:
        self.context = context
        try:  # created now, so it is listed by the time requests come
            self._namespaces: Any = context.informer("", "namespaces")
        except KeyError:
            self._namespaces = None
        self._force_live: dict[str, float] = {}  # namespace → time.monotonic() deadline

    def handles(self, operation: Operation) -> bool:
        return operation in ("CREATE", "DELETE")

    async def admit(self, attributes: Attributes) -> None:
        resource = attributes.resource
        if resource.group == "" and resource.resource == "namespaces":
            if attributes.operation == "DELETE" and attributes.name in IMMORTAL:
                raise attributes.forbidden("this namespace may not be deleted")
            if attributes.operation == "DELETE":
                self._remember_deletion(attributes.name)
            return
        if attributes.operation != "CREATE" or not attributes.namespace:
            return
        namespace = self._cached(attributes.namespace)
        if namespace is None:
            namespaces = self.context.store("", "namespaces")
            namespace = await namespaces.get("", attributes.namespace)  # 404 namespaces "x" not found
        if (namespace.get("metadata") or {}).get("deletionTimestamp"):
            raise attributes.forbidden(
                f"unable to create new content in namespace {attributes.namespace} because it is "
                "being terminated",
                [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                  "message": f"namespace {attributes.namespace} is being terminated"}])

    def _cached(self, name: str) -> Any:
        """The informer's namespace, or None when the store must be asked."""
        if self._namespaces is None:
            return None
        deadline = self._force_live.get(name)
        if deadline is not None:
            if time.monotonic() < deadline:
                return None
            del self._force_live[name]
        return self._namespaces.get(name)

    def _remember_deletion(self, name: str) -> None:
        now = time.monotonic()
        for expired in [n for n, deadline in self._force_live.items() if deadline <= now]:
            del self._force_live[expired]
        self._force_live[name] = now + FORCE_LIVE_LOOKUP_TTL
