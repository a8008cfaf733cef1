"""The Node authorizer's decisions and reasons, over a graph filled by the populator."""

from __future__ import annotations

import pytest

from kernel.authentication import UserInfo
from kernel.authorization import Decision, Rules
from kernel.testing.contracts import non_resource, resource
from kernel_api_rbac.bootstrappolicy import node_rules
from kernel_authz_node.graph import Graph
from kernel_authz_node.graph_populator import GraphPopulator
from kernel_authz_node.node_authorizer import NodeAuthorizer

N1 = UserInfo("system:node:n1", groups=("system:nodes",))
N2 = UserInfo("system:node:n2", groups=("system:nodes",))
NS = "default"


def pod(name: str, node: str, **spec) -> dict:
    return {"metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}], **spec}}


@pytest.fixture
def world() -> tuple[NodeAuthorizer, GraphPopulator]:
    graph = Graph()
    populator = GraphPopulator(graph)
    populator.add_pod(pod("web", "n1", serviceAccountName="web-sa",
                          volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "claim"}},
                                   {"name": "e", "ephemeral": {"volumeClaimTemplate": {}}}]))
    populator.update_pv(None, {"metadata": {"name": "pv1"}, "spec": {
        "claimRef": {"namespace": NS, "name": "claim"},
        "csi": {"driver": "d", "nodePublishSecretRef": {"namespace": NS, "name": "csi-secret"},
                "controllerPublishSecretRef": {"namespace": NS, "name": "controller-secret"}}}})
    return NodeAuthorizer(graph, node_rules()), populator


def decide(authorizer: NodeAuthorizer, user, verb, res, name="", namespace=NS, **kw):
    return authorizer.decide(resource(user, verb, res, namespace=namespace, name=name, **kw))


def test_pvc_pv_and_its_secrets(world) -> None:
    authorizer, _ = world
    assert decide(authorizer, N1, "get", "persistentvolumeclaims", "claim")[0] is Decision.ALLOW
    assert decide(authorizer, N1, "get", "persistentvolumeclaims", "web-e")[0] is Decision.ALLOW
    assert decide(authorizer, N1, "get", "persistentvolumes", "pv1", namespace="")[0] is Decision.ALLOW
    assert decide(authorizer, N1, "get", "secrets", "csi-secret")[0] is Decision.ALLOW
    # a secret the kubelet never reads stays out of the graph
    assert decide(authorizer, N1, "get", "secrets", "controller-secret") == (
        Decision.NO_OPINION, "no relationship found between node 'n1' and this object")
    assert decide(authorizer, N2, "get", "persistentvolumes", "pv1", namespace="")[0] is Decision.NO_OPINION
    assert decide(authorizer, N1, "list", "persistentvolumes", namespace="") == (
        Decision.NO_OPINION, "can only get individual resources of this type")
    assert decide(authorizer, N1, "patch", "persistentvolumeclaims", "claim",
                  subresource="status")[0] is Decision.ALLOW
    assert decide(authorizer, N1, "get", "persistentvolumeclaims", "claim", subresource="status") == (
        Decision.NO_OPINION, "can only get/update/patch this type")


def test_service_account_tokens(world) -> None:
    authorizer, _ = world
    assert decide(authorizer, N1, "create", "serviceaccounts", "web-sa", subresource="token")[0] \
        is Decision.ALLOW
    assert decide(authorizer, N1, "get", "serviceaccounts", "web-sa")[0] is Decision.ALLOW
    assert decide(authorizer, N2, "create", "serviceaccounts", "web-sa", subresource="token")[0] \
        is Decision.NO_OPINION
    assert decide(authorizer, N1, "create", "serviceaccounts", "web-sa") == (
        Decision.NO_OPINION, "can only create token subresource of serviceaccount")
    assert decide(authorizer, N1, "update", "serviceaccounts", "web-sa", subresource="token") == (
        Decision.NO_OPINION, "can only create tokens for individual service accounts")


def test_reads_of_graph_objects_need_a_name_a_namespace_and_a_read_verb(world) -> None:
    authorizer, populator = world
    populator.add_pod(pod("app", "n1", volumes=[{"name": "c", "configMap": {"name": "cm"}}]))
    assert decide(authorizer, N1, "watch", "configmaps", "cm")[0] is Decision.ALLOW
    assert decide(authorizer, N1, "list", "configmaps") == (Decision.NO_OPINION, "No Object name found")
    assert decide(authorizer, N1, "update", "configmaps", "cm") == (
        Decision.NO_OPINION, "can only read resources of this type")
    assert decide(authorizer, N1, "get", "configmaps", "cm", namespace="") == (
        Decision.NO_OPINION, "can only read namespaced object of this type")
    assert decide(authorizer, N1, "get", "configmaps", "cm", subresource="x") == (
        Decision.NO_OPINION, "cannot read subresource")


def test_leases_csinodes_and_nodes() -> None:
    authorizer = NodeAuthorizer(Graph(), node_rules())
    lease = lambda verb, name, ns="kube-node-lease": decide(  # noqa: E731
        authorizer, N1, verb, "leases", name, namespace=ns, api_group="coordination.k8s.io")
    assert lease("update", "n1")[0] is Decision.ALLOW
    assert lease("create", "")[0] is Decision.ALLOW  # the name is NodeRestriction's to check
    assert lease("update", "n2") == (
        Decision.NO_OPINION, "can only access node lease with the same name as the requesting node")
    assert lease("get", "n1", NS) == (
        Decision.NO_OPINION, 'can only access leases in the "kube-node-lease" system namespace')
    assert lease("list", "") == (
        Decision.NO_OPINION, "can only get, create, update, patch, or delete a node lease")
    csinode = lambda verb, name: decide(authorizer, N1, verb, "csinodes", name, namespace="",  # noqa: E731
                                        api_group="storage.k8s.io")
    assert csinode("patch", "n1")[0] is Decision.ALLOW
    assert csinode("get", "n2")[0] is Decision.NO_OPINION
    assert decide(authorizer, N1, "list", "nodes", namespace="") == (
        Decision.NO_OPINION, "node 'n1' cannot read all nodes, only its own Node object")
    assert decide(authorizer, N1, "watch", "nodes", "n1", namespace="")[0] is Decision.ALLOW
    assert decide(authorizer, N1, "delete", "nodes", "n1", namespace="") == (Decision.NO_OPINION, "")


def test_who_is_a_node() -> None:
    authorizer = NodeAuthorizer(Graph(), node_rules())
    services = lambda user: decide(authorizer, user, "get", "services", "s")  # noqa: E731
    assert services(N1)[0] is Decision.ALLOW
    assert services(UserInfo("system:node:n1", groups=("system:authenticated",))) == (Decision.NO_OPINION, "")
    assert services(UserInfo("n1", groups=("system:nodes",))) == (Decision.NO_OPINION, "")
    assert services(UserInfo("system:node:", groups=("system:nodes",))) == (
        Decision.NO_OPINION, 'unknown node for user "system:node:"')
    assert authorizer.decide(non_resource(N1, "get", "/healthz"))[0] is Decision.NO_OPINION


async def test_rules_for_a_node_are_incomplete() -> None:
    authorizer = NodeAuthorizer(Graph(), node_rules())
    assert await authorizer.rules_for(N1, NS) == Rules(
        incomplete=True, error="node authorizer does not support user rule resolution")
    assert await authorizer.rules_for(UserInfo("jane"), NS) == Rules()
