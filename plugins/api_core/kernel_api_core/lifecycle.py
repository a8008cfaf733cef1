"""NamespaceLifecycle admission: no new content in missing or terminating namespaces, and the
immortal namespaces (default, kube-system, kube-public) cannot be deleted."""

from __future__ import annotations

from kernel.admission import Attributes, MutatingAdmission, Operation
from kernel.context import ServerContext

IMMORTAL = frozenset({"default", "kube-system", "kube-public"})


class NamespaceLifecycle(MutatingAdmission):
    """A mutating plugin that changes nothing, as in kube: it refuses in the first phase, before
    any other mutating plugin has done work (or had side effects) for a request that fails."""

    def __init__(self, context: ServerContext) -> None:
        self.context = context

    def handles(self, operation: Operation) -> bool:
        return operation in ("CREATE", "DELETE")

    async def admit(self, attributes: Attributes) -> None:
        resource = attributes.resource
        if resource.group == "" and resource.resource == "namespaces":
            if attributes.operation == "DELETE" and attributes.name in IMMORTAL:
                raise attributes.forbidden("this namespace may not be deleted")
            return
        if attributes.operation != "CREATE" or not attributes.namespace:
            return
        namespaces = self.context.store("", "namespaces")
        namespace = await namespaces.get("", attributes.namespace)  # 404 namespaces "x" not found
        if (namespace.get("metadata") or {}).get("deletionTimestamp"):
            raise attributes.forbidden(
                f"unable to create new content in namespace {attributes.namespace} because it is "
                "being terminated",
                [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                  "message": f"namespace {attributes.namespace} is being terminated"}])
