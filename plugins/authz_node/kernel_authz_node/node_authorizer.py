"""The ``Node`` authorization mode (kube's plugin/pkg/auth/authorizer/node/node_authorizer.go).

Only nodes (:func:`node_identity`) get an opinion. A node may read a secret, configmap, PVC, PV,
volume attachment or service account only when the graph has a path from that object to the
node (its pods reference it); its own Node, Lease and CSINode by name; everything else as the
``system:node`` rules allow. Anything refused is NoOpinion with kube's reason, so a later mode
may still allow it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kernel.authentication.user import UserInfo
from kernel.authorization import Attributes, Decision, Rules
from kernel_api_rbac.rules import rules_allow
from kernel_authz_node.graph import (CONFIGMAP, POD, PV, PVC, SECRET, SERVICE_ACCOUNT,
                                     VOLUME_ATTACHMENT, Graph)
from kernel_authz_node.nodeidentifier import node_identity

NODE_LEASE_NAMESPACE = "kube-node-lease"
ALLOW: tuple[Decision, str] = (Decision.ALLOW, "")
Result = tuple[Decision, str]


def _no(reason: str = "") -> Result:
    return Decision.NO_OPINION, reason


class NodeAuthorizer:
    """kube's NodeAuthorizer over a :class:`Graph`; ``rules`` are the ``system:node`` rules."""

    def __init__(self, graph: Graph, rules: Sequence[dict[str, Any]]) -> None:
        self.graph = graph
        self.rules = list(rules)
        self.registrations: list[Any] = []  # the graph's informer handlers, to wait for sync
        self._by_resource: dict[tuple[str, str], Callable[[str, Attributes], Result]] = {
            ("", "secrets"): lambda node, a: self._read_namespaced(node, SECRET, a),
            ("", "configmaps"): lambda node, a: self._read_namespaced(node, CONFIGMAP, a),
            ("", "persistentvolumeclaims"): self._persistent_volume_claim,
            ("", "persistentvolumes"): lambda node, a: self._get(node, PV, a),
            ("storage.k8s.io", "volumeattachments"):
                lambda node, a: self._get(node, VOLUME_ATTACHMENT, a),
            ("", "serviceaccounts"): self._service_account,
            ("coordination.k8s.io", "leases"): self._lease,
            ("storage.k8s.io", "csinodes"): self._csi_node,
            ("", "nodes"): self._node,
            ("", "pods"): self._pod,
        }

    async def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """A node's permissions depend on the graph, so they are never fully listed."""
        if node_identity(user)[1]:
            return Rules(incomplete=True, error="node authorizer does not support user rule resolution")
        return Rules()

    async def authorize(self, attributes: Attributes) -> Result:
        return self.decide(attributes)

    def decide(self, attributes: Attributes) -> Result:
        """The decision, synchronously: the graph is in memory and changes between awaits only."""
        node, is_node = node_identity(attributes.user)
        if not is_node:
            return _no()
        if not node:
            return _no(f'unknown node for user "{attributes.user.name}"')
        if attributes.resource_request:
            subdivided = self._by_resource.get((attributes.api_group, attributes.resource))
            if subdivided is not None:
                return subdivided(node, attributes)
        # Access to anything else is not subdivided by node: the static node rules decide.
        return ALLOW if rules_allow(attributes, self.rules) else _no()

    # -- graph-backed objects --------------------------------------------------------------------

    def _related(self, node: str, kind: str, attributes: Attributes) -> Result:
        if not attributes.name:
            return _no("No Object name found")
        if self.graph.has_path(node, kind, attributes.namespace, attributes.name):
            return ALLOW
        return _no(f"no relationship found between node '{node}' and this object")

    def _get(self, node: str, kind: str, attributes: Attributes) -> Result:
        if attributes.verb != "get":
            return _no("can only get individual resources of this type")
        if attributes.subresource:
            return _no("cannot get subresource")
        return self._related(node, kind, attributes)

    def _read_namespaced(self, node: str, kind: str, attributes: Attributes) -> Result:
        """get, and list/watch of one object named by a ``metadata.name`` field selector."""
        if attributes.verb not in ("get", "list", "watch"):
            return _no("can only read resources of this type")
        if attributes.subresource:
            return _no("cannot read subresource")
        if not attributes.namespace:
            return _no("can only read namespaced object of this type")
        return self._related(node, kind, attributes)

    def _persistent_volume_claim(self, node: str, attributes: Attributes) -> Result:
        if attributes.subresource != "status":
            return self._get(node, PVC, attributes)
        if attributes.verb not in ("update", "patch"):
            return _no("can only get/update/patch this type")
        return self._related(node, PVC, attributes)

    def _service_account(self, node: str, attributes: Attributes) -> Result:
        if attributes.verb == "get" and not attributes.subresource:
            return self._read_namespaced(node, SERVICE_ACCOUNT, attributes)
        if attributes.verb != "create" or not attributes.name:
            return _no("can only create tokens for individual service accounts")
        if attributes.subresource != "token":
            return _no("can only create token subresource of serviceaccount")
        if self.graph.has_path(node, SERVICE_ACCOUNT, attributes.namespace, attributes.name):
            return ALLOW
        return _no(f"no relationship found between node '{node}' and this object")

    def _pod(self, node: str, attributes: Attributes) -> Result:
        """kube's authorizePod (AuthorizeNodeWithSelectors): a node reads its own pods — a list or
        watch scoped by ``spec.nodeName=<node>``, or one pod bound to it by name; creates and
        deletes (mirror pods), status updates and evictions are NodeRestriction's to limit."""
        verb, sub = attributes.verb, attributes.subresource
        if not sub and verb == "get":
            return self._related(node, POD, attributes)
        if not sub and verb in ("list", "watch"):
            if attributes.field_selector_requires("spec.nodeName") == node:
                return ALLOW
            if attributes.name:
                return self._related(node, POD, attributes)
            return _no("can only list/watch pods with spec.nodeName field selector")
        if (not sub and verb in ("create", "delete")) or (
                sub == "status" and verb in ("update", "patch")) or (
                sub == "eviction" and verb == "create"):
            return ALLOW
        return _no()

    # -- objects named after the node --------------------------------------------------------

    def _lease(self, node: str, attributes: Attributes) -> Result:
        if attributes.verb not in ("get", "create", "update", "patch", "delete"):
            return _no("can only get, create, update, patch, or delete a node lease")
        if attributes.namespace != NODE_LEASE_NAMESPACE:
            return _no(f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace')
        # On create the name is in the body: NodeRestriction checks it there.
        if attributes.verb != "create" and attributes.name != node:
            return _no("can only access node lease with the same name as the requesting node")
        return ALLOW

    def _csi_node(self, node: str, attributes: Attributes) -> Result:
        if attributes.verb not in ("get", "create", "update", "patch", "delete"):
            return _no("can only get, create, update, patch, or delete a CSINode")
        if attributes.subresource:
            return _no("cannot authorize CSINode subresources")
        if attributes.verb != "create" and attributes.name != node:
            return _no("can only access CSINode with the same name as the requesting node")
        return ALLOW

    def _node(self, node: str, attributes: Attributes) -> Result:
        """Writes are NodeRestriction's to limit; reads by name, so a kubelet may look for its
        Node before it registers it."""
        verb, sub = attributes.verb, attributes.subresource
        if not sub and verb in ("create", "update", "patch"):
            return ALLOW
        if not sub and verb in ("get", "list", "watch"):
            if attributes.name == node:
                return ALLOW
            if not attributes.name:
                return _no(f"node '{node}' cannot read all nodes, only its own Node object")
            return _no(f"node '{node}' cannot read '{attributes.name}', only its own Node object")
        if sub == "status" and verb in ("update", "patch"):
            return ALLOW
        return _no()
