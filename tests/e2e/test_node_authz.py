"""The Node authorization mode and NodeRestriction end to end: a real server, node users from a
token file, the official `kubernetes` Python client acting as the kubelet."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

from kernel.testing import KernelProcess, start_kernel  # noqa: E402

NS = "default"
TOKENS = ('node1-token,system:node:n1,uid-n1,"system:nodes"\n'
          'node2-token,system:node:n2,uid-n2,"system:nodes"\n'
          'fake-token,system:node:n1,uid-fake,"developers"\n')
PLUGINS = "--plugins=authn_token,storage_memory,api_core,api_coordination,authz_node"


def api(kernel: KernelProcess, token: str) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = kernel.url
    configuration.ssl_ca_cert = kernel.ca_file
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(configuration)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[KernelProcess]:
    (tmp_path / "tokens.csv").write_text(TOKENS)
    kernel = start_kernel(tmp_path / "kernel", PLUGINS, f"--token-auth-file={tmp_path / 'tokens.csv'}",
                          "--authorization-mode=Node")
    yield kernel
    kernel.stop()


@pytest.fixture
def admin(kernel: KernelProcess) -> Iterator[client.CoreV1Api]:
    with api(kernel, kernel.token) as api_client:
        yield client.CoreV1Api(api_client)


@pytest.fixture
def node1(kernel: KernelProcess) -> Iterator[client.CoreV1Api]:
    with api(kernel, "node1-token") as api_client:
        yield client.CoreV1Api(api_client)


@pytest.fixture
def node2(kernel: KernelProcess) -> Iterator[client.CoreV1Api]:
    with api(kernel, "node2-token") as api_client:
        yield client.CoreV1Api(api_client)


def status_of(call: Callable[[], object]) -> int:
    try:
        call()
    except ApiException as error:
        return error.status
    return 200


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 403, caught.value.body
    return json.loads(caught.value.body)["message"]


def eventually(call: Callable[[], object], expected: int, deadline: float) -> None:
    """Poll ``call`` until it answers ``expected`` (the graph follows the informers), at most
    ``deadline`` seconds; the last answer is in the failure."""
    end = time.monotonic() + deadline
    while True:
        got = status_of(call)
        if got == expected:
            return
        assert time.monotonic() < end, f"still {got} after {deadline}s, wanted {expected}"
        time.sleep(0.01)


def pod(name: str, node: str, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox", **spec.pop(
                "container", {})}], **spec}}


def setup_objects(admin: client.CoreV1Api) -> None:
    for name in ("mounted", "unused", "pv-secret"):
        admin.create_namespaced_secret(NS, {"metadata": {"name": name}, "stringData": {"k": "v"}})
    admin.create_namespaced_config_map(NS, {"metadata": {"name": "settings"}, "data": {"k": "v"}})
    for node in ("n1", "n2"):
        admin.create_node({"metadata": {"name": node}})
    admin.create_persistent_volume({
        "metadata": {"name": "pv1"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "claimRef": {"namespace": NS, "name": "claim1"},
                 "csi": {"driver": "example.csi", "volumeHandle": "h1",
                         "nodePublishSecretRef": {"namespace": NS, "name": "pv-secret"}}}})
    admin.create_namespaced_persistent_volume_claim(NS, {
        "metadata": {"name": "claim1"},
        "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv1",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    admin.create_namespaced_pod(NS, pod(
        "web", "n1", volumes=[{"name": "s", "secret": {"secretName": "mounted"}},
                              {"name": "data", "persistentVolumeClaim": {"claimName": "claim1"}}],
        container={"envFrom": [{"configMapRef": {"name": "settings"}}]}))
    admin.create_namespaced_pod(NS, pod("other", "n2"))


def test_a_node_reads_what_its_pods_reference_and_nothing_else(kernel, admin, node1, node2) -> None:
    setup_objects(admin)
    mounted = lambda api: api.read_namespaced_secret("mounted", NS)  # noqa: E731
    eventually(lambda: mounted(node1), 200, deadline=10)
    # kubectl as the kubelet (--raw: discovery is RBAC's to grant, and Node is the only mode here)
    path = f"/api/v1/namespaces/{NS}/secrets/"
    got = kernel.kubectl("get", "--raw", path + "mounted", "--token=node1-token")
    assert json.loads(got.stdout)["metadata"]["name"] == "mounted"
    refused = kernel.kubectl("get", "--raw", path + "unused", "--token=node1-token", check=False)
    assert refused.returncode == 1 and "no relationship found between node" in refused.stderr, refused.stderr
    assert node1.read_namespaced_config_map("settings", NS).data == {"k": "v"}
    assert node1.read_namespaced_persistent_volume_claim("claim1", NS).spec.volume_name == "pv1"
    assert node1.read_persistent_volume("pv1").metadata.name == "pv1"
    assert node1.read_namespaced_secret("pv-secret", NS).metadata.name == "pv-secret"
    # a list or watch of one object named by a field selector is a read of that object
    listed = node1.list_namespaced_secret(NS, field_selector="metadata.name=mounted")
    assert [s.metadata.name for s in listed.items] == ["mounted"]

    assert refusal(lambda: node1.read_namespaced_secret("unused", NS)) == (
        'secrets "unused" is forbidden: User "system:node:n1" cannot get resource "secrets" in API '
        "group \"\" in the namespace \"default\": no relationship found between node 'n1' and this object")
    assert "no relationship found between node 'n2'" in refusal(lambda: mounted(node2))
    assert "no relationship" in refusal(lambda: node2.read_persistent_volume("pv1"))
    assert status_of(lambda: node1.list_namespaced_secret(NS)) == 403  # not one named object
    assert status_of(lambda: node1.delete_namespaced_secret("mounted", NS)) == 403
    # its own Node by name; not another's, not all of them
    assert node1.read_node("n1").metadata.name == "n1"
    assert "node 'n1' cannot read 'n2', only its own Node object" in refusal(lambda: node1.read_node("n2"))
    assert "cannot read all nodes" in refusal(node1.list_node)
    # its own pods: listed with spec.nodeName=<node> (as a kubelet lists them), or one by name
    assert {p.metadata.name for p in node1.list_pod_for_all_namespaces(
        field_selector="spec.nodeName=n1").items} == {"web"}
    assert node1.read_namespaced_pod("web", NS).metadata.name == "web"
    assert "can only list/watch pods with spec.nodeName field selector" in refusal(
        lambda: node1.list_namespaced_pod(NS))
    assert status_of(lambda: node1.list_pod_for_all_namespaces(field_selector="spec.nodeName=n2")) == 403
    assert "no relationship found between node 'n1' and this object" in refusal(
        lambda: node1.read_namespaced_pod("other", NS))
    # the static node rules: services are readable, namespaces are not
    assert node1.list_namespaced_service(NS).items == []
    assert status_of(lambda: node1.read_namespace(NS)) == 403


def test_access_ends_within_a_second_of_the_pod_being_deleted(admin, node1, node2) -> None:
    setup_objects(admin)
    eventually(lambda: node1.read_namespaced_secret("mounted", NS), 200, deadline=10)
    admin.delete_namespaced_pod("web", NS, _preload_content=False)
    eventually(lambda: node1.read_namespaced_secret("mounted", NS), 403, deadline=1)
    for read in (lambda: node1.read_namespaced_config_map("settings", NS),
                 lambda: node1.read_persistent_volume("pv1"),
                 lambda: node1.read_namespaced_secret("pv-secret", NS)):
        assert status_of(read) == 403
    # the same pod scheduled again, on the other node: now that node's, not this one's
    admin.create_namespaced_pod(NS, pod("web", "n2", volumes=[
        {"name": "s", "secret": {"secretName": "mounted"}}]))
    eventually(lambda: node2.read_namespaced_secret("mounted", NS), 200, deadline=10)
    assert status_of(lambda: node1.read_namespaced_secret("mounted", NS)) == 403


def test_only_members_of_system_nodes_are_nodes(kernel) -> None:
    with api(kernel, "fake-token") as fake:
        error = refusal(lambda: client.CoreV1Api(fake).read_node("n1"))
    assert error.endswith('cannot get resource "nodes" in API group "" at the cluster scope')


def test_node_restriction(admin, node1) -> None:
    setup_objects(admin)
    status_patch = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    node1.patch_node_status("n1", status_patch)
    assert admin.read_node("n1").status.conditions[0].type == "Ready"
    node1.patch_node("n1", {"metadata": {"labels": {"kubernetes.io/hostname": "n1"}}})
    node1.patch_namespaced_pod_status("web", NS, {"status": {"phase": "Running"}})
    assert admin.read_namespaced_pod("web", NS).status.phase == "Running"

    assert refusal(lambda: node1.patch_node_status("n2", status_patch)) == (
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"')
    assert refusal(lambda: node1.patch_node("n2", {"metadata": {"labels": {"a": "b"}}})) == (
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"')
    assert refusal(lambda: node1.delete_node("n2")).endswith(  # the Node mode grants no delete
        'cannot delete resource "nodes" in API group "" at the cluster scope')
    assert refusal(lambda: node1.patch_node("n1", {"metadata": {"labels": {
        "node-restriction.kubernetes.io/pool": "secure"}}})) == (
        'nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/pool')
    assert refusal(lambda: node1.patch_node("n1", {"spec": {"taints": [
        {"key": "k", "effect": "NoSchedule"}]}})).endswith('node "n1" is not allowed to modify taints')
    assert refusal(lambda: node1.patch_namespaced_pod_status("other", NS, {"status": {"phase": "Failed"}})) == (
        'pods "other" is forbidden: node "n1" can only update pod status for pods with spec.nodeName '
        "set to itself")
    assert refusal(lambda: node1.delete_namespaced_pod("other", NS)) == (
        'pods "other" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself')
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other", "namespace": NS}}
    assert refusal(lambda: node1.create_namespaced_pod_eviction("other", NS, eviction)) == (
        'pods "other" is forbidden: node n1 can only evict pods with spec.nodeName set to itself')
    assert refusal(lambda: node1.create_namespaced_pod(NS, pod("sneaky", "n1"))).endswith(
        'node "n1" can only create mirror pods')
    # nothing of that changed anything
    assert admin.read_node("n2").metadata.labels in (None, {})
    assert admin.read_namespaced_pod("other", NS).status.phase != "Failed"
    spec = admin.read_node("n1").spec
    assert spec is None or not spec.taints
    node1.delete_namespaced_pod("web", NS, _preload_content=False)  # its own pod


def test_mirror_pods_and_leases(kernel, admin, node1) -> None:
    setup_objects(admin)
    uid = admin.read_node("n1").metadata.uid
    owner = {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": uid, "controller": True}
    mirror = pod("static-web-n1", "n1")
    mirror["metadata"].update(annotations={"kubernetes.io/config.mirror": "hash"}, ownerReferences=[owner])
    node1.create_namespaced_pod(NS, mirror)
    wrong = pod("static-x", "n2")
    wrong["metadata"].update(annotations={"kubernetes.io/config.mirror": "hash"}, ownerReferences=[owner])
    assert refusal(lambda: node1.create_namespaced_pod(NS, wrong)).endswith(
        'node "n1" can only create pods with spec.nodeName set to itself')
    with_secret = pod("static-s", "n1", volumes=[{"name": "s", "secret": {"secretName": "unused"}}])
    with_secret["metadata"].update(annotations={"kubernetes.io/config.mirror": "h"}, ownerReferences=[owner])
    assert refusal(lambda: node1.create_namespaced_pod(NS, with_secret)).endswith(
        'node "n1" can not create pods that reference secrets')

    with api(kernel, "node1-token") as api_client:
        leases = client.CoordinationV1Api(api_client)
        lease = {"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}}
        leases.create_namespaced_lease("kube-node-lease", lease)
        leases.patch_namespaced_lease("n1", "kube-node-lease", {"spec": {"leaseDurationSeconds": 40}})
        assert refusal(lambda: leases.create_namespaced_lease(
            "kube-node-lease", {"metadata": {"name": "n2"}})).endswith(
            "can only access node lease with the same name as the requesting node")
        assert refusal(lambda: leases.read_namespaced_lease("n1", NS)).endswith(
            'can only access leases in the "kube-node-lease" system namespace')


def test_node_restriction_applies_whatever_the_mode(tmp_path: Path) -> None:
    """NodeRestriction is admission: with the Node mode left out (here AlwaysAllow) it still
    holds a node to its own objects, and the graph is not built."""
    (tmp_path / "tokens.csv").write_text(TOKENS)
    kernel = start_kernel(tmp_path / "kernel", PLUGINS, f"--token-auth-file={tmp_path / 'tokens.csv'}",
                          "--authorization-mode=AlwaysAllow")
    try:
        with api(kernel, kernel.token) as admin_client, api(kernel, "node1-token") as node_client:
            admin, node1 = client.CoreV1Api(admin_client), client.CoreV1Api(node_client)
            admin.create_node({"metadata": {"name": "n2"}})
            assert refusal(lambda: node1.patch_node("n2", {"metadata": {"labels": {"a": "b"}}})) == (
                'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"')
            admin.patch_node("n2", {"metadata": {"labels": {"a": "b"}}})
    finally:
        kernel.stop()
    assert "post-start hook node-authorizer-graph finished" in kernel.log()
