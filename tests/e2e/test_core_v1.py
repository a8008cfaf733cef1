"""core/v1 through the real server: pods and services with httpx and kubectl, ClusterIP/NodePort
allocation under 200 concurrent creates, released on delete and rebuilt after a restart on etcd."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import httpx
import pytest
import trio

from kernel import testing
from kernel.testing import KUBECTL

SERVICES = "/api/v1/namespaces/default/services"
PODS = "/api/v1/namespaces/default/pods"
needs_kubectl = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")


async def _post(client: httpx.AsyncClient, body: dict, path: str = SERVICES) -> httpx.Response:
    return await client.post(path, json=body)


async def test_200_concurrent_creates_get_distinct_ips_and_node_ports(api) -> None:
    results: list[httpx.Response] = []

    async def create(i: int) -> None:
        results.append(await _post(api.client, {"metadata": {"name": f"s{i}"},
                                                "spec": {"type": "NodePort", "ports": [{"port": 80}]}}))

    async with trio.open_nursery() as nursery:
        for i in range(200):
            nursery.start_soon(create, i)
    assert [r.status_code for r in results] == [201] * 200, [r.text for r in results if r.status_code != 201][:3]
    ips = [r.json()["spec"]["clusterIP"] for r in results]
    node_ports = [r.json()["spec"]["ports"][0]["nodePort"] for r in results]
    assert len(set(ips)) == 200 and len(set(node_ports)) == 200
    assert all(ip.startswith("10.0.0.") and ip not in ("10.0.0.0", "10.0.0.1", "10.0.0.255") for ip in ips)
    assert all(30000 <= p <= 32767 for p in node_ports)
    listed = {s["metadata"]["name"]: s["spec"]["clusterIP"] for s in (await api.get(SERVICES))["items"]}
    assert listed.pop("kubernetes", "10.0.0.1") == "10.0.0.1"  # the bootstrap's, when it ran already
    assert sorted(listed.values()) == sorted(ips)


async def test_requested_ip_refused_then_free_after_delete(api) -> None:
    created = await _post(api.client, {"metadata": {"name": "a"},
                                       "spec": {"clusterIP": "10.0.0.50", "ports": [{"port": 80}]}})
    assert created.status_code == 201, created.text
    taken = await _post(api.client, {"metadata": {"name": "b"},
                                     "spec": {"clusterIP": "10.0.0.50", "ports": [{"port": 80}]}})
    assert taken.status_code == 422
    status = taken.json()
    assert status["reason"] == "Invalid" and status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.clusterIPs",
        "message": 'Invalid value: []string{"10.0.0.50"}: failed to allocate IP 10.0.0.50: provided IP is '
                   "already allocated"}]
    assert (await api.client.get(f"{SERVICES}/b")).status_code == 404  # nothing stored
    assert (await api.client.delete(f"{SERVICES}/a")).status_code == 200
    again = await _post(api.client, {"metadata": {"name": "b"},
                                     "spec": {"clusterIP": "10.0.0.50", "ports": [{"port": 80}]}})
    assert again.status_code == 201, again.text
    # an existing name: the storage write fails (409) and the reservation is released
    dup = await _post(api.client, {"metadata": {"name": "b"},
                                   "spec": {"clusterIP": "10.0.0.51", "ports": [{"port": 80}]}})
    assert dup.status_code == 409
    assert (await _post(api.client, {"metadata": {"name": "c"},
                                     "spec": {"clusterIP": "10.0.0.51", "ports": [{"port": 80}]}})).status_code == 201


async def test_field_selectors_on_service_type(api) -> None:
    for name, kind in (("x", "ClusterIP"), ("y", "NodePort")):
        assert (await _post(api.client, {"metadata": {"name": name},
                                         "spec": {"type": kind, "ports": [{"port": 80}]}})).status_code == 201
    listed = await api.get(f"{SERVICES}?fieldSelector=spec.type=NodePort")
    assert [s["metadata"]["name"] for s in listed["items"]] == ["y"]


async def test_pod_create_status_update_rules(api) -> None:
    body = {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}
    created = await _post(api.client, {**body, "status": {"phase": "Running"}}, PODS)
    assert created.status_code == 201, created.text
    pod = created.json()
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}  # status reset on create
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    # status only through /status
    pod["status"] = {"phase": "Running", "podIP": "10.1.0.7", "podIPs": [{"ip": "10.1.0.7"}]}
    main = await api.client.put(f"{PODS}/web", json=pod)
    assert main.status_code == 200 and main.json()["status"]["phase"] == "Pending"
    pod["metadata"]["resourceVersion"] = main.json()["metadata"]["resourceVersion"]
    status = await api.client.put(f"{PODS}/web/status", json=pod)
    assert status.status_code == 200 and status.json()["status"]["phase"] == "Running"
    # the image may change; the restart policy may not
    patched = await api.client.patch(f"{PODS}/web", json={"spec": {"restartPolicy": "Never"}},
                                     headers={"Content-Type": "application/merge-patch+json"})
    assert patched.status_code == 422
    cause = patched.json()["details"]["causes"][0]
    assert cause["field"] == "spec" and cause["reason"] == "FieldValueForbidden"
    assert cause["message"].startswith("Forbidden: pod updates may not change fields other than "
                                       "`spec.containers[*].image`,")
    invalid = await _post(api.client, {"metadata": {"name": "bad"}, "spec": {"containers": [
        {"name": "c", "image": "x", "ports": [{"containerPort": 70000}]}]}}, PODS)
    assert invalid.status_code == 422
    assert invalid.json()["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.containers[0].ports[0].containerPort",
        "message": "Invalid value: 70000: must be between 1 and 65535, inclusive"}]
    running = await api.get(f"{PODS}?fieldSelector=status.phase=Running,status.podIP=10.1.0.7")
    assert [p["metadata"]["name"] for p in running["items"]] == ["web"]
    assert (await api.get(f"{PODS}?fieldSelector=status.phase=Pending"))["items"] == []
    bad = await api.client.get(f"{PODS}?fieldSelector=spec.bogus=x")
    assert bad.status_code == 400


@pytest.fixture
def kernel(kernel_process):
    return kernel_process()


POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx
    ports:
    - containerPort: 80
"""


@needs_kubectl
def test_kubectl_pod_get_wide_describe_events_and_service(kernel, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD_YAML)
    assert "pod/web created" in kernel.kubectl("create", "-f", str(manifest)).stdout
    table = kernel.kubectl("get", "pods").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1].split()[:4] == ["web", "0/1", "Pending", "0"]
    wide = kernel.kubectl("get", "pods", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED",
                               "NODE", "READINESS", "GATES"]
    assert wide[1].split()[5:] == ["<none>", "<none>", "<none>", "<none>"]
    pod = kernel.kubectl_json("get", "pod", "web")
    with kernel.client() as client:
        event = {"metadata": {"name": "web.1"}, "type": "Warning", "reason": "BackOff",
                 "message": "Back-off pulling image", "count": 3,
                 "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web",
                                    "uid": pod["metadata"]["uid"], "apiVersion": "v1"},
                 "source": {"component": "kubelet", "host": "node-1"},
                 "firstTimestamp": pod["metadata"]["creationTimestamp"],
                 "lastTimestamp": pod["metadata"]["creationTimestamp"]}
        assert client.post("/api/v1/namespaces/default/events", json=event).status_code == 201
        other = {**event, "metadata": {"name": "other.1"}, "reason": "Other",
                 "involvedObject": {**event["involvedObject"], "name": "other", "uid": "x"}}
        assert client.post("/api/v1/namespaces/default/events", json=other).status_code == 201
    described = kernel.kubectl("describe", "pod", "web").stdout
    assert "Name:" in described and "nginx" in described
    events_section = described.split("Events:", 1)[1]
    assert "BackOff" in events_section and "Back-off pulling image" in events_section
    assert "Other" not in events_section
    selected = kernel.kubectl("get", "events", "--field-selector", "reason=BackOff").stdout.splitlines()
    assert selected[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert selected[1].split()[1:4] == ["Warning", "BackOff", "pod/web"] and len(selected) == 2

    # a service as `kubectl expose` makes one (kubectl create service sends the same object)
    kernel.kubectl("expose", "pod", "web", "--port=8080", "--target-port=80", "--type=NodePort")
    svc = kernel.kubectl_json("get", "svc", "web")
    assert svc["spec"]["selector"] == {"app": "web"} and svc["spec"]["type"] == "NodePort"
    ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    assert ip.startswith("10.0.0.") and 30000 <= node_port <= 32767
    row = kernel.kubectl("get", "svc", "web", "-o", "wide").stdout.splitlines()
    assert row[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    cells = row[1].split()
    assert cells[:5] == ["web", "NodePort", ip, "<none>", f"8080:{node_port}/TCP"] and cells[6] == "app=web"

    # binding is a scheduler's job: here the status a kubelet would write, through /status
    pod = kernel.kubectl_json("get", "pod", "web")
    pod["status"].update(phase="Running", podIP="10.1.0.9", podIPs=[{"ip": "10.1.0.9"}],
                         containerStatuses=[{"name": "nginx", "ready": True, "restartCount": 0, "image": "nginx",
                                             "imageID": "", "state": {"running": {}}}])
    with kernel.client() as client:
        assert client.put(f"{PODS}/web/status", json=pod).status_code == 200
    after = kernel.kubectl("get", "pods", "-o", "wide", "--field-selector", "status.phase=Running").stdout
    assert after.splitlines()[1].split()[1:3] == ["1/1", "Running"] and "10.1.0.9" in after


@needs_kubectl
def test_kubectl_tables_of_other_core_kinds(kernel, tmp_path: Path) -> None:
    manifest = tmp_path / "all.yaml"
    manifest.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: robot}
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: web}
        subsets:
        - addresses: [{ip: 10.1.0.1}, {ip: 10.1.0.2}]
          ports: [{port: 80}]
        ---
        apiVersion: v1
        kind: ReplicationController
        metadata: {name: rc}
        spec:
          template:
            metadata: {labels: {app: rc}}
            spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: data}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
        ---
        apiVersion: v1
        kind: Node
        metadata: {name: node-1, labels: {node-role.kubernetes.io/control-plane: ""}}
        """))
    kernel.kubectl("apply", "-f", str(manifest))
    assert kernel.kubectl("get", "sa", "robot").stdout.split()[:2] == ["NAME", "AGE"]
    assert kernel.kubectl("get", "ep", "web").stdout.splitlines()[1].split()[:2] == [
        "web", "10.1.0.1:80,10.1.0.2:80"]
    rc = kernel.kubectl("get", "rc", "rc", "-o", "wide").stdout.splitlines()
    assert rc[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert rc[1].split()[:4] == ["rc", "1", "0", "0"] and rc[1].split()[-3:] == ["c", "busybox", "app=rc"]
    kernel.kubectl("scale", "rc/rc", "--replicas=3")  # the scale subresource over a label-map selector
    scale = json.loads(kernel.kubectl("get", "--raw", "/api/v1/namespaces/default/replicationcontrollers/rc/scale").stdout)
    assert scale["spec"]["replicas"] == 3 and scale["status"]["selector"] == "app=rc"
    pvc = kernel.kubectl("get", "pvc", "data").stdout.splitlines()
    assert pvc[0].split()[:3] == ["NAME", "STATUS", "VOLUME"] and pvc[1].split()[:2] == ["data", "Pending"]
    node = kernel.kubectl("get", "nodes").stdout.splitlines()
    assert node[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert node[1].split()[:3] == ["node-1", "Unknown", "control-plane"]
    kernel.kubectl("cordon", "node-1")
    cordoned = kernel.kubectl("get", "nodes", "--field-selector", "spec.unschedulable=true").stdout
    assert "Unknown,SchedulingDisabled" in cordoned


@pytest.mark.skipif(not os.path.exists(testing.KERNEL), reason="kernel is not installed")
def test_allocation_is_rebuilt_after_a_restart_on_etcd(tmp_path: Path) -> None:
    from kernel_storage_etcd3.testing import INSTALLED, MISSING, etcd_server
    if not INSTALLED:
        pytest.skip(MISSING)
    with etcd_server() as etcd:
        flags = ("--storage-backend=etcd3", f"--etcd-servers={etcd.url}", "--service-cluster-ip-range=10.0.0.0/28",
                 "--service-node-port-range=30000-30004")
        first = testing.start_kernel(tmp_path / "k", *flags, append_log=True)
        try:
            with first.client() as client:
                made = [client.post(SERVICES, json={"metadata": {"name": f"s{i}"},
                                                    "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
                        for i in range(3)]
                assert [r.status_code for r in made] == [201] * 3, made[-1].text
        finally:
            assert first.stop() == 0
        held_ips = {r.json()["spec"]["clusterIP"] for r in made}
        held_ports = {r.json()["spec"]["ports"][0]["nodePort"] for r in made}
        second = testing.start_kernel(tmp_path / "k", *flags, append_log=True)
        try:
            with second.client() as client:
                # the range has 5 ports: after a restart only the 2 free ones are handed out
                for ip in held_ips:
                    taken = client.post(SERVICES, json={"metadata": {"name": "again"},
                                                        "spec": {"clusterIP": ip, "ports": [{"port": 80}]}})
                    assert taken.status_code == 422 and "provided IP is already allocated" in taken.text
                rest = [client.post(SERVICES, json={"metadata": {"name": f"t{i}"},
                                                    "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
                        for i in range(2)]
                assert [r.status_code for r in rest] == [201, 201], rest[-1].text
                assert not {r.json()["spec"]["clusterIP"] for r in rest} & held_ips
                assert not {r.json()["spec"]["ports"][0]["nodePort"] for r in rest} & held_ports
                full = client.post(SERVICES, json={"metadata": {"name": "full"},
                                                   "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
                assert full.status_code == 500
                assert full.json()["message"] == ("Internal error occurred: failed to allocate a nodePort: "
                                                  "range is full")
                assert client.delete(f"{SERVICES}/s0").status_code == 200
                freed = client.post(SERVICES, json={"metadata": {"name": "full"},
                                                    "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
                assert freed.status_code == 201, freed.text
        finally:
            second.stop()


async def test_binding_sets_the_node_once(api) -> None:
    """POST pods/<name>/binding (what a scheduler sends): spec.nodeName set, a second bind 409."""
    pod = {"metadata": {"name": "bound"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    assert (await _post(api.client, pod, PODS)).status_code == 201
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    response = await _post(api.client, binding, f"{PODS}/bound/binding")
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "Success"
    assert (await api.get(f"{PODS}/bound"))["spec"]["nodeName"] == "node-1"
    again = await _post(api.client, {**binding, "target": {"kind": "Node", "name": "node-2"}},
                        f"{PODS}/bound/binding")
    assert again.status_code == 409, again.text
    assert 'pod bound is already assigned to node "node-1"' in again.json()["message"]
    missing = await _post(api.client, {**binding, "metadata": {"name": "nope"}}, f"{PODS}/nope/binding")
    assert missing.status_code == 404
    assert (await api.get(f"{PODS}/bound"))["spec"]["nodeName"] == "node-1"


async def test_eviction_honours_the_disruption_budget(api) -> None:
    """POST pods/<name>/eviction: 429 while the PDB allows no disruption; once its status (written
    by the test: there is no disruption controller) allows one, the pod goes and the budget is
    charged."""
    pod = {"metadata": {"name": "guarded", "labels": {"app": "g"}},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    assert (await _post(api.client, pod, PODS)).status_code == 201
    running = await api.get(f"{PODS}/guarded")  # a Pending pod ignores budgets, as in kube
    running["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    assert (await api.client.put(f"{PODS}/guarded/status", json=running)).status_code == 200
    pdbs = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "g"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "g"}}}}
    assert (await _post(api.client, pdb, pdbs)).status_code == 201

    async def set_allowed(allowed: int) -> None:
        current = await api.get(f"{pdbs}/g")
        current["status"] = {"observedGeneration": 1, "disruptionsAllowed": allowed, "currentHealthy": 1,
                             "desiredHealthy": 1, "expectedPods": 1}
        response = await api.client.put(f"{pdbs}/g/status", json=current)
        assert response.status_code == 200, response.text

    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "guarded"}}
    await set_allowed(0)
    refused = await _post(api.client, eviction, f"{PODS}/guarded/eviction")
    assert refused.status_code == 429, refused.text
    assert refused.json()["details"]["causes"][0]["reason"] == "DisruptionBudget"
    assert (await api.client.get(f"{PODS}/guarded")).status_code == 200

    mismatched = await _post(api.client, {**eviction, "metadata": {"name": "other"}}, f"{PODS}/guarded/eviction")
    assert mismatched.status_code == 400

    await set_allowed(1)
    evicted = await _post(api.client, eviction, f"{PODS}/guarded/eviction")
    assert evicted.status_code == 201, evicted.text
    assert (await api.client.get(f"{PODS}/guarded")).status_code == 404
    charged = (await api.get(f"{pdbs}/g"))["status"]
    assert charged["disruptionsAllowed"] == 0 and "guarded" in charged["disruptedPods"]
