"""kubectl's columns and cells (pkg/printers/internalversion) for the other core/v1 kinds."""

from __future__ import annotations

from kernel.endpoints.table import build_table
from kernel_api_core import (componentstatus_spec, endpoints_spec, event_spec, limitrange_spec, node_spec,
                             persistentvolume_spec, persistentvolumeclaim_spec, podtemplate_spec,
                             replicationcontroller_spec, resourcequota_spec, serviceaccount_spec)

CREATED = "2024-05-01T11:00:00Z"


def _table(spec, obj: dict) -> tuple[list[tuple[str, int]], list]:
    obj.setdefault("metadata", {}).update(name="x", creationTimestamp=CREATED)
    table = build_table(spec.table_columns, [obj], list_meta={})
    return [(c["name"], c["priority"]) for c in table["columnDefinitions"]], table["rows"][0]["cells"]


def test_event_columns_and_cells() -> None:
    columns, cells = _table(event_spec, {
        "type": "Warning", "reason": "BackOff", "message": " Back-off \n", "count": 4,
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{c}"},
        "source": {"component": "kubelet", "host": "node-1"}, "firstTimestamp": CREATED})
    assert columns == [("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1),
                       ("Source", 1), ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1)]
    assert cells[1:7] == ["Warning", "BackOff", "pod/web", "spec.containers{c}", "kubelet, node-1", "Back-off"]
    assert cells[0] == cells[7] and cells[8:] == [4, "x"]  # no lastTimestamp: the first one
    assert _table(event_spec, {"series": {"count": 9, "lastObservedTime": CREATED}})[1][8] == 9
    fields = event_spec.strategy.field_selectors({"reportingComponent": "sched", "reason": "r",
                                                  "involvedObject": {"kind": "Pod", "uid": "u"}})
    assert fields["source"] == "sched" and fields["involvedObject.uid"] == "u"
    assert set(fields) == set(event_spec.selectable_fields)


def test_node_columns_and_cells() -> None:
    columns, cells = _table(node_spec, {
        "metadata": {"labels": {"node-role.kubernetes.io/worker": "", "kubernetes.io/role": "gpu"}},
        "spec": {"unschedulable": True},
        "status": {"conditions": [{"type": "Ready", "status": "False"}],
                   "addresses": [{"type": "InternalIP", "address": "192.168.0.2"}],
                   "nodeInfo": {"kubeletVersion": "v1.32.0", "architecture": "amd64"}}})
    assert [c for c, _ in columns] == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP",
                                       "OS-Image", "Kernel-Version", "Container-Runtime"]
    assert cells[1:3] == ["NotReady,SchedulingDisabled", "gpu,worker"]
    assert cells[4:] == ["v1.32.0", "192.168.0.2", "<none>", "<unknown>", "<unknown> (amd64)", "<unknown>"]
    assert node_spec.strategy.field_selectors({"spec": {}}) == {"spec.unschedulable": "false"}


def test_endpoints_show_three_then_more() -> None:
    subsets = [{"addresses": [{"ip": f"10.1.0.{i}"} for i in range(5)], "ports": [{"port": 80}]},
               {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 443}]}]
    assert _table(endpoints_spec, {"subsets": subsets})[1][1] == "10.1.0.0:80,10.1.0.1:80,10.1.0.2:80 + 3 more..."
    assert _table(endpoints_spec, {"subsets": subsets[1:]})[1][1] == "[fd00::1]:443"
    assert _table(endpoints_spec, {})[1][1] == "<none>"


def test_volume_claim_quota_and_template_cells() -> None:
    _, pv = _table(persistentvolume_spec, {
        "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "fast",
                 "claimRef": {"namespace": "ns", "name": "data"}}, "status": {"phase": "Bound"}})
    assert pv[1:9] == ["5Gi", "RWO,RWX", "Delete", "Bound", "ns/data", "fast", "<unset>", ""]
    _, pvc = _table(persistentvolumeclaim_spec, {"spec": {"volumeName": "pv1", "volumeMode": "Block"},
                                                 "status": {"phase": "Bound", "capacity": {"storage": "1Gi"},
                                                            "accessModes": ["ReadWriteOnce"]}})
    assert pvc[1:7] == ["Bound", "pv1", "1Gi", "RWO", "", "<unset>"] and pvc[8] == "Block"
    _, quota = _table(resourcequota_spec, {"status": {
        "hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"}, "used": {"pods": "3"}}})
    assert quota[1:3] == ["pods: 3/10, requests.cpu: 0/1", "limits.cpu: 0/2"]
    columns, template = _table(podtemplate_spec, {"template": {
        "metadata": {"labels": {"b": "2", "a": "1"}},
        "spec": {"containers": [{"name": "c1", "image": "i1"}, {"name": "c2", "image": "i2"}]}}})
    assert [c for c, _ in columns] == ["Name", "Containers", "Images", "Pod Labels"]
    assert template[1:] == ["c1,c2", "i1,i2", "a=1,b=2"]
    assert [c.name for c in limitrange_spec.table_columns] == ["Name", "Created At"]  # kube has no printer
    assert [c.name for c in serviceaccount_spec.table_columns] == ["Name", "Age"]
    _, cs = _table(componentstatus_spec, {"conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]})
    assert cs[1:] == ["Healthy", "ok", ""]


def test_replication_controller_defaults_and_validation() -> None:
    strategy = replicationcontroller_spec.strategy
    rc = {"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"app": "a"}},
                                                            "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    strategy.prepare_for_create(rc)
    assert rc["spec"]["selector"] == {"app": "a"} and rc["spec"]["replicas"] == 1
    assert rc["metadata"]["labels"] == {"app": "a"} and rc["status"] == {}
    assert rc["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert strategy.validate(rc) == []
    rc["spec"]["selector"] = {"app": "b"}
    assert [str(e) for e in strategy.validate(rc)] == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"a"}: `selector` does not '
        "match template `labels`"]
    assert strategy.field_selectors({"status": {"replicas": 3}}) == {"status.replicas": "3"}
