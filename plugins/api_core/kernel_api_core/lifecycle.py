"""NamespaceLifecycle admission: no new content in missing or terminating namespaces, and the
immortal namespaces (default, kube-system, kube-public) cannot be deleted."""

from __future__ import annotations

from kernel.admission import AdmissionAttributes
from kernel.apimachinery import status
from kernel.context import ServerContext

IMMORTAL = frozenset({"default", "kube-system", "kube-public"})


class NamespaceLifecycle:
    def __init__(self, context: ServerContext) -> None:
        self.context = context

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "DELETE")

    async def validate(self, attributes: AdmissionAttributes) -> None:
        if attributes.group == "" and attributes.resource == "namespaces":
            if attributes.operation == "DELETE" and attributes.name in IMMORTAL:
                raise status.forbidden(f'namespaces "{attributes.name}" is forbidden: this namespace '
                                       f"may not be deleted", "", "namespaces", attributes.name)
            return
        if attributes.operation != "CREATE" or not attributes.namespace:
            return
        namespaces = self.context.store("", "namespaces")
        namespace = await namespaces.get("", attributes.namespace)  # 404 namespaces "x" not found
        if (namespace.get("metadata") or {}).get("deletionTimestamp"):
            qualified = attributes.resource + (f".{attributes.group}" if attributes.group else "")
            raise status.StatusError(
                403, "Forbidden",
                f'{qualified} "{attributes.name}" is forbidden: unable to create new content in '
                f"namespace {attributes.namespace} because it is being terminated",
                {"name": attributes.name, "kind": attributes.resource,
                 "causes": [{"reason": "NamespaceTerminating",
                             "message": f"namespace {attributes.namespace} is being terminated",
                             "field": "metadata.namespace"}]})
