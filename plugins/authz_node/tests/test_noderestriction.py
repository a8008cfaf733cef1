"""NodeRestriction's checks in-process, on the admission attributes the registry builds."""

from __future__ import annotations

import pytest

from kernel.admission import Attributes, GroupVersionKind, GroupVersionResource
from kernel.apimachinery.status import StatusError
from kernel.authentication import UserInfo
from kernel_authz_node.noderestriction import NodeRestriction, forbidden_labels

N1 = UserInfo("system:node:n1", groups=("system:nodes",))


def attributes(operation, resource, obj=None, old=None, *, user=N1, name="", namespace="",
               subresource="", group="", kind="") -> Attributes:
    return Attributes(user, operation, obj, old, {}, False, GroupVersionKind(group, "v1", kind),
                      GroupVersionResource(group, "v1", resource), subresource, namespace, name)


async def refused(attrs: Attributes) -> str:
    with pytest.raises(StatusError) as caught:
        await NodeRestriction().validate(attrs)
    assert caught.value.code == 403
    return caught.value.message


def node(labels=None, **spec) -> dict:
    return {"metadata": {"name": "n1", "labels": labels or {}}, "spec": spec}


def test_reserved_labels() -> None:
    assert forbidden_labels({
        "node-restriction.kubernetes.io/a", "x.node-restriction.kubernetes.io/b", "kubernetes.io/hostname",
        "node.kubernetes.io/instance-type", "kubelet.kubernetes.io/x", "sub.node.kubernetes.io/y",
        "example.com/free", "plain", "kubernetes.io/made-up", "k8s.io/other", "foo.k8s.io/z"}) == [
        "foo.k8s.io/z", "k8s.io/other", "kubernetes.io/made-up", "node-restriction.kubernetes.io/a",
        "x.node-restriction.kubernetes.io/b"]


async def test_nodes() -> None:
    await NodeRestriction().validate(attributes("CREATE", "nodes", node({"kubernetes.io/os": "linux"}), name="n1"))
    assert await refused(attributes("CREATE", "nodes", node({"node-restriction.kubernetes.io/x": "1"}),
                                    name="n1")) == (
        'nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: '
        "node-restriction.kubernetes.io/x")
    old = node({"node-restriction.kubernetes.io/x": "1", "a": "b"})
    # removing a reserved label is a modification too; other labels are free
    assert (await refused(attributes("UPDATE", "nodes", node({"a": "c"}), old, name="n1"))).endswith(
        "is not allowed to modify labels: node-restriction.kubernetes.io/x")
    await NodeRestriction().validate(attributes("UPDATE", "nodes", node({**old["metadata"]["labels"], "a": "c"}),
                                                old, name="n1"))
    assert (await refused(attributes("UPDATE", "nodes", node(configSource={"configMap": {}}), node(),
                                     name="n1"))).endswith(
        'node "n1" is not allowed to update configSource to a new non-nil configSource')
    assert (await refused(attributes("DELETE", "nodes", None, node(), name="n2"))).endswith(
        'node "n1" is not allowed to modify node "n2"')


async def test_pods() -> None:
    mine = {"metadata": {"name": "p", "labels": {"a": "1"}}, "spec": {"nodeName": "n1"}, "status": {}}
    relabelled = {**mine, "metadata": {"name": "p", "labels": {"a": "2"}}}
    assert (await refused(attributes("UPDATE", "pods", relabelled, mine, name="p", namespace="d",
                                     subresource="status"))).endswith(
        'node "n1" cannot update labels through pod status')
    assert (await refused(attributes("UPDATE", "pods", mine, mine, name="p", namespace="d"))).endswith(
        'unexpected operation "UPDATE", node "n1" can only create and delete mirror pods')
    assert (await refused(attributes("CREATE", "pods", {}, name="p", namespace="d",
                                     subresource="binding"))).endswith(
        "unexpected pod subresource \"binding\", only 'status' and 'eviction' are allowed")
    await NodeRestriction().validate(attributes("DELETE", "pods", None, mine, name="p", namespace="d"))


async def test_pvc_status() -> None:
    old = {"metadata": {"name": "c", "resourceVersion": "1"}, "spec": {"volumeName": "pv"},
           "status": {"phase": "Bound"}}
    resized = {"metadata": {"name": "c", "resourceVersion": "2"}, "spec": {"volumeName": "pv"},
               "status": {"phase": "Bound", "capacity": {"storage": "2Gi"}}}
    await NodeRestriction().validate(attributes("UPDATE", "persistentvolumeclaims", resized, old, name="c",
                                                namespace="d", subresource="status"))
    moved = {**resized, "status": {"phase": "Lost"}}
    assert (await refused(attributes("UPDATE", "persistentvolumeclaims", moved, old, name="c",
                                     namespace="d", subresource="status"))).endswith(
        'node "n1" is not allowed to update fields other than status.quantity and status.conditions: '
        "status.phase")
    assert (await refused(attributes("UPDATE", "persistentvolumeclaims", old, old, name="c",
                                     namespace="d"))).endswith("may only update PVC status")


async def test_leases_and_csinodes_and_other_users() -> None:
    lease = lambda name, ns="kube-node-lease": attributes(  # noqa: E731
        "CREATE", "leases", {"metadata": {"name": name}}, namespace=ns, name=name, group="coordination.k8s.io")
    await NodeRestriction().validate(lease("n1"))
    assert (await refused(lease("n2"))).endswith("can only access node lease with the same name as the "
                                                 "requesting node")
    assert (await refused(attributes("UPDATE", "csinodes", {}, {}, name="n2",
                                     group="storage.k8s.io"))).endswith(
        "can only access CSINode with the same name as the requesting node")
    # not a node: NodeRestriction has nothing to say
    await NodeRestriction().validate(attributes(
        "DELETE", "nodes", None, node(), name="n2", user=UserInfo("system:node:n1")))
    assert (await refused(attributes("DELETE", "nodes", None, node(), name="n1",
                                     user=UserInfo("system:node:", groups=("system:nodes",))))).endswith(
        'could not determine node from user "system:node:"')
