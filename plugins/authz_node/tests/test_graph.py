"""The graph and its populator: what a pod, a PV and an attachment add, and what goes with them."""

from __future__ import annotations

from kernel_authz_node import references
from kernel_authz_node.graph import CONFIGMAP, NODE, POD, PV, PVC, SECRET, SERVICE_ACCOUNT, Graph
from kernel_authz_node.graph_populator import GraphPopulator

NS = "default"


def pod(name: str, node: str, uid: str = "", **spec) -> dict:
    return {"metadata": {"name": name, "namespace": NS, "uid": uid or f"uid-{name}"},
            "spec": {"nodeName": node, **spec}}


def test_every_reference_of_a_pod() -> None:
    container = {"name": "c", "image": "i",
                 "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}},
                         {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "k"}}},
                         {"name": "C", "value": "plain"}],
                 "envFrom": [{"secretRef": {"name": "from-secret"}}, {"configMapRef": {"name": "from-cm"}}]}
    spec = {"imagePullSecrets": [{"name": "pull"}], "initContainers": [
        {"name": "i", "envFrom": [{"secretRef": {"name": "init-secret"}}]}],
        "containers": [container],
        "ephemeralContainers": [{"name": "e", "envFrom": [{"configMapRef": {"name": "debug-cm"}}]}],
        "volumes": [{"name": "a", "secret": {"secretName": "vol-secret"}},
                    {"name": "b", "configMap": {"name": "vol-cm"}},
                    {"name": "p", "projected": {"sources": [
                        {"secret": {"name": "proj-secret"}}, {"configMap": {"name": "proj-cm"}},
                        {"serviceAccountToken": {"path": "token"}}]}},
                    {"name": "r", "rbd": {"secretRef": {"name": "rbd-secret"}}},
                    {"name": "s", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "csi-secret"}}},
                    {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "eph", "ephemeral": {"volumeClaimTemplate": {}}}]}
    p = pod("web", "n1", **spec)
    assert references.pod_secret_names(p) == {
        "pull", "env-secret", "from-secret", "init-secret", "vol-secret", "proj-secret",
        "rbd-secret", "csi-secret"}
    assert references.pod_configmap_names(p) == {"env-cm", "from-cm", "debug-cm", "vol-cm", "proj-cm"}
    assert references.pod_claim_names(p) == {"data", "web-eph"}
    graph = Graph()
    GraphPopulator(graph).add_pod({**p, "spec": {**p["spec"], "serviceAccountName": "sa"}})
    for kind, name in [(SECRET, "pull"), (CONFIGMAP, "debug-cm"), (PVC, "web-eph"), (SERVICE_ACCOUNT, "sa")]:
        assert graph.has_path("n1", kind, NS, name), (kind, name)
        assert not graph.has_path("n2", kind, NS, name), (kind, name)
    assert not graph.has_path("n1", SECRET, "other-namespace", "pull")


def test_deleting_a_pod_removes_what_only_it_referenced() -> None:
    graph = Graph()
    populator = GraphPopulator(graph)
    shared = [{"name": "s", "secret": {"secretName": "shared"}}]
    populator.add_pod(pod("a", "n1", volumes=[*shared, {"name": "o", "secret": {"secretName": "only-a"}}]))
    populator.add_pod(pod("b", "n2", volumes=shared))
    assert graph.has_path("n1", SECRET, NS, "shared") and graph.has_path("n2", SECRET, NS, "shared")
    populator.delete_pod(pod("a", "n1"))
    assert not graph.has_path("n1", SECRET, NS, "shared")
    assert graph.has_path("n2", SECRET, NS, "shared")
    assert not graph.has(SECRET, NS, "only-a") and not graph.has(NODE, "", "n1")
    populator.delete_pod(pod("b", "n2"))
    assert len(graph) == 0


def test_updates_rebinding_and_unscheduled_pods() -> None:
    graph = Graph()
    populator = GraphPopulator(graph)
    populator.add_pod(pod("p", "", volumes=[{"name": "s", "secret": {"secretName": "s"}}]))
    assert len(graph) == 0  # not scheduled: no node may read anything of it
    old = pod("p", "", volumes=[{"name": "s", "secret": {"secretName": "s"}}])
    bound = pod("p", "n1", volumes=[{"name": "s", "secret": {"secretName": "s"}}])
    populator.update_pod(old, bound)
    assert graph.has_path("n1", SECRET, NS, "s")
    # a pod deleted and made again under the same name on another node (a new uid)
    again = pod("p", "n2", uid="second", volumes=[{"name": "s", "secret": {"secretName": "s"}}])
    populator.update_pod(bound, again)
    assert graph.has_path("n2", SECRET, NS, "s") and not graph.has_path("n1", SECRET, NS, "s")
    # an ephemeral container added for debugging brings its references
    debug = {**again, "spec": {**again["spec"], "ephemeralContainers": [
        {"name": "dbg", "envFrom": [{"configMapRef": {"name": "debug"}}]}]}}
    populator.update_pod(again, debug)
    assert graph.has_path("n2", CONFIGMAP, NS, "debug")


def test_mirror_pods_grant_nothing() -> None:
    graph = Graph()
    mirror = pod("static", "n1", volumes=[{"name": "s", "secret": {"secretName": "s"}}])
    mirror["metadata"]["annotations"] = {references.MIRROR_POD_ANNOTATION: "x"}
    GraphPopulator(graph).add_pod(mirror)
    assert graph.has_path("n1", POD, NS, "static")
    assert not graph.has_path("n1", SECRET, NS, "s")


def test_pv_edges_follow_its_claim_ref() -> None:
    graph = Graph()
    populator = GraphPopulator(graph)
    populator.add_pod(pod("p", "n1", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "c"}}]))
    pv = {"metadata": {"name": "pv"}, "spec": {"claimRef": {"namespace": NS, "name": "c"},
                                               "rbd": {"secretRef": {"name": "ceph"}},
                                               "cinder": {"secretRef": {"name": "x", "namespace": "ops"}}}}
    populator.update_pv(None, pv)
    assert graph.has_path("n1", PV, "", "pv")
    assert graph.has_path("n1", SECRET, NS, "ceph")  # an unnamespaced ref: the claim's namespace
    assert not graph.has_path("n1", SECRET, "ops", "ceph")
    released = {"metadata": {"name": "pv"}, "spec": {"rbd": {"secretRef": {"name": "ceph"}}}}
    populator.update_pv(pv, released)
    assert not graph.has_path("n1", PV, "", "pv") and not graph.has_path("n1", SECRET, NS, "ceph")
    populator.update_pv(released, pv)
    populator.delete_pv(pv)
    assert not graph.has(PV, "", "pv")
    assert graph.has_path("n1", PVC, NS, "c")  # still the pod's


def test_volume_attachments() -> None:
    graph = Graph()
    populator = GraphPopulator(graph)
    va = {"metadata": {"name": "va"}, "spec": {"nodeName": "n1"}}
    populator.update_attachment(None, va)
    assert graph.has_path("n1", "volumeattachment", "", "va")
    populator.update_attachment(va, {"metadata": {"name": "va"}, "spec": {"nodeName": "n2"}})
    assert not graph.has_path("n1", "volumeattachment", "", "va")
    assert graph.has_path("n2", "volumeattachment", "", "va")
    populator.delete_attachment(va)
    assert len(graph) == 0


def test_a_path_through_another_node_is_not_followed() -> None:
    graph = Graph()
    populator = GraphPopulator(graph)
    for name, node in (("a", "n1"), ("b", "n2")):
        populator.add_pod(pod(name, node, volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "c"}}]))
    populator.update_pv(None, {"metadata": {"name": "pv"}, "spec": {
        "claimRef": {"namespace": NS, "name": "c"}, "iscsi": {"secretRef": {"name": "chap"}}}})
    assert graph.has_path("n1", SECRET, NS, "chap") and graph.has_path("n2", SECRET, NS, "chap")
    populator.delete_pod(pod("a", "n1"))
    assert not graph.has_path("n1", SECRET, NS, "chap") and graph.has_path("n2", SECRET, NS, "chap")
