"""The ``NodeRestriction`` admission plugin (kube's plugin/pkg/admission/noderestriction).

A node (:func:`node_identity`) may change only what is its own: its Node object (without
touching its taints, owner references, config source or the labels kube reserves), the status
of pods bound to it, mirror pods bound to it, evictions of its pods, its Lease and CSINode, the
status of PVCs, and tokens for its pods' service accounts. Everyone else passes untouched.
Refusals are kube's 403 ``<resource> "<name>" is forbidden: <reason>``.
"""

from __future__ import annotations

from typing import Any

from kernel.admission import Attributes, Operation
from kernel.apimachinery import status
from kernel.context import ServerContext
from kernel_authz_node import references
from kernel_authz_node.node_authorizer import NODE_LEASE_NAMESPACE
from kernel_authz_node.nodeidentifier import node_identity

Object = dict[str, Any]
NODE_RESTRICTION_LABEL_DOMAIN = "node-restriction.kubernetes.io"
# Labels a kubelet may set on its own Node (kube's kubeletapis.KubeletLabels and namespaces).
KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type", "kubernetes.io/os",
    "kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/arch"})
KUBELET_LABEL_DOMAINS = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _meta(obj: Object | None) -> Object:
    return (obj or {}).get("metadata") or {}


def _spec(obj: Object | None) -> Object:
    return (obj or {}).get("spec") or {}


def _in_domain(domain: str, allowed: str) -> bool:
    return domain == allowed or domain.endswith("." + allowed)


def label_domain(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def is_kubelet_label(key: str) -> bool:
    return key in KUBELET_LABELS or any(_in_domain(label_domain(key), d) for d in KUBELET_LABEL_DOMAINS)


def modified_labels(new: dict[str, str], old: dict[str, str]) -> set[str]:
    return {key for key in new.keys() | old.keys() if new.get(key) != old.get(key)}


def forbidden_labels(keys: set[str]) -> list[str]:
    """Labels a node may not add, change or remove: node-restriction ones, and kubernetes.io and
    k8s.io ones other than the kubelet's own."""
    forbidden = set()
    for key in keys:
        domain = label_domain(key)
        if _in_domain(domain, NODE_RESTRICTION_LABEL_DOMAIN):
            forbidden.add(key)
        kubernetes = _in_domain(domain, "kubernetes.io") or _in_domain(domain, "k8s.io")
        if kubernetes and not is_kubelet_label(key):
            forbidden.add(key)
    return sorted(forbidden)


class NodeRestriction:
    """Validating only: it never changes an object, so it sees what every mutating plugin made."""

    def __init__(self, context: ServerContext | None = None) -> None:
        self.context = context

    def handles(self, operation: Operation) -> bool:
        return operation in ("CREATE", "UPDATE", "DELETE")

    async def validate(self, attributes: Attributes) -> None:
        node, is_node = node_identity(attributes.user)
        if not is_node:
            return
        if not node:
            raise attributes.forbidden(f'could not determine node from user "{attributes.user.name}"')
        group, resource = attributes.resource.group, attributes.resource.resource
        if group == "" and resource == "pods":
            await self._pod(node, attributes)
        elif group == "" and resource == "nodes":
            self._node(node, attributes)
        elif group == "" and resource == "persistentvolumeclaims":
            if attributes.subresource != "status":
                raise attributes.forbidden("may only update PVC status")
            self._pvc_status(node, attributes)
        elif group == "" and resource == "serviceaccounts":
            await self._service_account(node, attributes)
        elif group == "coordination.k8s.io" and resource == "leases":
            if attributes.namespace != NODE_LEASE_NAMESPACE:
                raise attributes.forbidden(
                    f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace')
            self._same_name(node, attributes, "node lease")
        elif group == "storage.k8s.io" and resource == "csinodes":
            self._same_name(node, attributes, "CSINode")

    @staticmethod
    def _same_name(node: str, attributes: Attributes, what: str) -> None:
        name = _meta(attributes.object).get("name") if attributes.operation == "CREATE" else attributes.name
        if name != node:
            raise attributes.forbidden(f"can only access {what} with the same name as the requesting node")

    # -- pods ----------------------------------------------------------------------------------

    async def _pod(self, node: str, attributes: Attributes) -> None:
        sub, operation = attributes.subresource, attributes.operation
        if sub == "status":
            if operation != "UPDATE":
                raise attributes.forbidden(f'unexpected operation "{operation}"')
            self._pod_status(node, attributes)
        elif sub == "eviction":
            if operation != "CREATE":
                raise attributes.forbidden(f"unexpected operation {operation}")
            await self._pod_eviction(node, attributes)
        elif sub:
            raise attributes.forbidden(f"unexpected pod subresource \"{sub}\", only 'status' and "
                                       "'eviction' are allowed")
        elif operation == "CREATE":
            await self._mirror_pod_create(node, attributes)
        elif operation == "DELETE":
            if _spec(attributes.old_object).get("nodeName") != node:
                raise attributes.forbidden(
                    f'node "{node}" can only delete pods with spec.nodeName set to itself')
        else:
            raise attributes.forbidden(f'unexpected operation "{operation}", node "{node}" can only '
                                       "create and delete mirror pods")

    @staticmethod
    def _pod_status(node: str, attributes: Attributes) -> None:
        old, new = attributes.old_object or {}, attributes.object or {}
        if _spec(old).get("nodeName") != node:
            raise attributes.forbidden(f'node "{node}" can only update pod status for pods with '
                                       "spec.nodeName set to itself")
        if (_meta(old).get("labels") or {}) != (_meta(new).get("labels") or {}):
            raise attributes.forbidden(f'node "{node}" cannot update labels through pod status')
        old_claims = (old.get("status") or {}).get("resourceClaimStatuses") or []
        new_claims = (new.get("status") or {}).get("resourceClaimStatuses") or []
        if old_claims != new_claims:
            raise attributes.forbidden(f'node "{node}" cannot update resource claim statues')
        if (old.get("status") or {}).get("extendedResourceClaimStatus") != \
                (new.get("status") or {}).get("extendedResourceClaimStatus"):
            raise attributes.forbidden(f'node "{node}" cannot update extended resource claim status')

    async def _existing_pod(self, attributes: Attributes, name: str) -> Object:
        assert self.context is not None, "NodeRestriction needs the server context to look pods up"
        try:
            return await self.context.store("", "pods").get(attributes.namespace, name)
        except status.StatusError as error:
            if error.code == 404:
                raise
            raise attributes.forbidden(error.message) from None

    async def _pod_eviction(self, node: str, attributes: Attributes) -> None:
        name = attributes.name or _meta(attributes.object).get("name")
        if not name:
            raise attributes.forbidden("could not determine pod from request data")
        pod = await self._existing_pod(attributes, name)
        if _spec(pod).get("nodeName") != node:
            raise attributes.forbidden(f"node {node} can only evict pods with spec.nodeName set to itself")

    async def _mirror_pod_create(self, node: str, attributes: Attributes) -> None:
        pod = attributes.object or {}
        if not references.is_mirror_pod(pod):
            raise attributes.forbidden(f'pod does not have "{references.MIRROR_POD_ANNOTATION}" '
                                       f'annotation, node "{node}" can only create mirror pods')
        if _spec(pod).get("nodeName") != node:
            raise attributes.forbidden(f'node "{node}" can only create pods with spec.nodeName set to itself')
        await self._mirror_pod_owner(node, attributes, _meta(pod).get("ownerReferences") or [])
        referenced = references.api_object_reference(pod)
        if referenced is not None:
            raise attributes.forbidden(f'node "{node}" can not create pods that reference {referenced}')

    async def _mirror_pod_owner(self, node: str, attributes: Attributes, owners: list[Object]) -> None:
        if len(owners) > 1:
            raise attributes.forbidden(
                f'node "{node}" can only create pods with a single owner reference set to itself')
        owner = owners[0] if owners else {}
        if (owner.get("apiVersion"), owner.get("kind"), owner.get("name")) != ("v1", "Node", node):
            raise attributes.forbidden(
                f'node "{node}" can only create pods with an owner reference set to itself')
        if not owner.get("controller"):
            raise attributes.forbidden(
                f'node "{node}" can only create pods with a controller owner reference set to itself')
        if owner.get("blockOwnerDeletion"):
            raise attributes.forbidden(f'node "{node}" must not set blockOwnerDeletion on an owner reference')
        assert self.context is not None, "NodeRestriction needs the server context to look nodes up"
        try:
            uid = _meta(await self.context.store("", "nodes").get("", node)).get("uid")
        except status.StatusError as error:
            if error.code == 404:
                raise
            raise attributes.forbidden(f"error looking up node {node} to verify uid: {error.message}") from None
        if owner.get("uid") != uid:
            raise attributes.forbidden(f"node {node} UID mismatch: expected {owner.get('uid', '')} got {uid}")

    # -- nodes, PVCs, tokens -------------------------------------------------------------------

    @staticmethod
    def _node(node: str, attributes: Attributes) -> None:
        if attributes.name != node:
            raise attributes.forbidden(f'node "{node}" is not allowed to modify node "{attributes.name}"')
        new, old = attributes.object or {}, attributes.old_object or {}
        labels = _meta(new).get("labels") or {}
        if attributes.operation == "CREATE":
            if _spec(new).get("configSource") is not None:
                raise attributes.forbidden(
                    f'node "{node}" is not allowed to create pods with a non-nil configSource')
            refused = forbidden_labels(set(labels))
            if refused:
                raise attributes.forbidden(
                    f'node "{node}" is not allowed to set the following labels: {", ".join(refused)}')
        elif attributes.operation == "UPDATE":
            source = _spec(new).get("configSource")
            if source is not None and source != _spec(old).get("configSource"):
                raise attributes.forbidden(f'node "{node}" is not allowed to update configSource to a '
                                           "new non-nil configSource")
            if (_spec(new).get("taints") or []) != (_spec(old).get("taints") or []):
                raise attributes.forbidden(f'node "{node}" is not allowed to modify taints')
            if (_meta(new).get("ownerReferences") or []) != (_meta(old).get("ownerReferences") or []):
                raise attributes.forbidden(f'node "{node}" is not allowed to modify ownerReferences')
            refused = forbidden_labels(modified_labels(labels, _meta(old).get("labels") or {}))
            if refused:
                raise attributes.forbidden(f"is not allowed to modify labels: {', '.join(refused)}")

    @staticmethod
    def _pvc_status(node: str, attributes: Attributes) -> None:
        if attributes.operation != "UPDATE":
            raise attributes.forbidden(f'unexpected operation "{attributes.operation}"')
        old, new = _comparable_pvc(attributes.old_object), _comparable_pvc(attributes.object)
        if old != new:
            changed = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
            raise attributes.forbidden(f'node "{node}" is not allowed to update fields other than '
                                       f"status.quantity and status.conditions: {', '.join(changed)}")

    async def _service_account(self, node: str, attributes: Attributes) -> None:
        if attributes.operation != "CREATE" or attributes.subresource != "token":
            return
        ref = _spec(attributes.object).get("boundObjectRef") or {}
        if (ref.get("apiVersion"), ref.get("kind")) != ("v1", "Pod") or not ref.get("name"):
            raise attributes.forbidden("node requested token not bound to a pod")
        if not ref.get("uid"):
            raise attributes.forbidden("node requested token with a pod binding without a uid")
        pod = await self._existing_pod(attributes, ref["name"])
        if ref["uid"] != _meta(pod).get("uid"):
            raise attributes.forbidden(
                f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
                "record. The object might have been deleted and then recreated")
        if _spec(pod).get("nodeName") != node:
            raise attributes.forbidden("node requested token bound to a pod scheduled on a different node")


def _comparable_pvc(pvc: Object | None) -> dict[str, Any]:
    """The PVC without what a node may change in its status (and the resourceVersion and
    managedFields, which any write changes), flattened to ``section.field`` keys."""
    flat: dict[str, Any] = {}
    for section, value in (pvc or {}).items():
        if isinstance(value, dict) and section in ("metadata", "spec", "status"):
            for key, item in value.items():
                flat[f"{section}.{key}"] = item
        else:
            flat[section] = value
    for key in ("metadata.resourceVersion", "metadata.managedFields", "status.capacity",
                "status.conditions", "status.allocatedResourceStatuses", "status.allocatedResources"):
        flat.pop(key, None)
    return flat
