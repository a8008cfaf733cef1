"""storage.k8s.io/v1: defaults, immutable fields with kube's message, status only through
/status, and the table columns of the four kinds."""

from __future__ import annotations

import pytest

from kernel.testing import KernelProcess, start_kernel
from kernel_api_storage import csinode_spec, storageclass_spec

API = "/apis/storage.k8s.io/v1"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("storage"), "--plugins=api_core,api_storage,storage_memory")
    yield kernel
    kernel.stop()


def _obj(kind: str, name: str, **fields) -> dict:
    return {"apiVersion": "storage.k8s.io/v1", "kind": kind, "metadata": {"name": name}, **fields}


def test_storageclass_defaults_immutability_and_columns(kernel: KernelProcess) -> None:
    with kernel.client() as http:
        created = http.post(f"{API}/storageclasses", json=_obj(
            "StorageClass", "fast", provisioner="example.com/fast", parameters={"type": "ssd"},
            metadata={"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}))
        assert created.status_code == 201, created.text
        assert created.json()["reclaimPolicy"] == "Delete" and created.json()["volumeBindingMode"] == "Immediate"
        changed = http.patch(f"{API}/storageclasses/fast", json={"provisioner": "example.com/slow"}, headers=MERGE)
        assert changed.status_code == 422
        assert changed.json()["message"] == ('StorageClass.storage.k8s.io "fast" is invalid: provisioner: Invalid '
                                             'value: "example.com/slow": field is immutable')
        missing = http.post(f"{API}/storageclasses", json=_obj("StorageClass", "none", reclaimPolicy="Recycle"))
        assert missing.status_code == 422
        assert [(c["field"], c["message"]) for c in missing.json()["details"]["causes"]] == [
            ("provisioner", "Required value"),
            ("reclaimPolicy", 'Unsupported value: "Recycle": supported values: "Delete", "Retain"')]
        assert http.get(f"{API}/storageclasses/none").status_code == 404
    lines = kernel.kubectl("get", "sc").stdout.splitlines()
    assert lines[0].split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"]
    assert lines[1].split()[:6] == ["fast", "(default)", "example.com/fast", "Delete", "Immediate", "false"]


def test_csidriver_defaults_and_columns(kernel: KernelProcess) -> None:
    with kernel.client() as http:
        created = http.post(f"{API}/csidrivers", json=_obj("CSIDriver", "csi.example.com", spec={})).json()
        spec = created["spec"]
        assert spec["attachRequired"] is True and spec["podInfoOnMount"] is False
        assert spec["fsGroupPolicy"] == "ReadWriteOnceWithFSType" and spec["volumeLifecycleModes"] == ["Persistent"]
        changed = http.patch(f"{API}/csidrivers/csi.example.com", json={"spec": {"attachRequired": False}},
                             headers=MERGE)
        assert changed.status_code == 422
        assert changed.json()["details"]["causes"][0]["field"] == "spec.attachedRequired"
    lines = kernel.kubectl("get", "csidrivers").stdout.splitlines()
    assert lines[0].split() == ["NAME", "ATTACHREQUIRED", "PODINFOONMOUNT", "STORAGECAPACITY", "TOKENREQUESTS",
                                "REQUIRESREPUBLISH", "MODES", "AGE"]
    assert lines[1].split()[:7] == ["csi.example.com", "true", "false", "false", "<unset>", "false", "Persistent"]


def test_csinode_drivers(kernel: KernelProcess) -> None:
    with kernel.client() as http:
        body = _obj("CSINode", "node-1", spec={"drivers": [{"name": "csi.example.com", "nodeID": "n1"}]})
        assert http.post(f"{API}/csinodes", json=body).status_code == 201
    assert kernel.kubectl("get", "csinodes").stdout.splitlines()[1].split()[:2] == ["node-1", "1"]
    errors = csinode_spec.strategy.validate(_obj("CSINode", "n", spec={"drivers": [
        {"name": "d.example.com", "nodeID": "x"}, {"name": "d.example.com", "nodeID": ""}]}))
    assert [str(e) for e in errors] == ["spec.drivers[1].nodeID: Required value",
                                        'spec.drivers[1].name: Duplicate value: "d.example.com"']


def test_volumeattachment_status_only_through_status(kernel: KernelProcess) -> None:
    body = _obj("VolumeAttachment", "va1", spec={"attacher": "csi.example.com", "nodeName": "node-1",
                                                 "source": {"persistentVolumeName": "pv-1"}},
                status={"attached": True})
    with kernel.client() as http:
        created = http.post(f"{API}/volumeattachments", json=body).json()
        assert "status" not in created
        moved = http.patch(f"{API}/volumeattachments/va1", json={"spec": {"nodeName": "node-2"}}, headers=MERGE)
        assert moved.status_code == 422 and moved.json()["details"]["causes"][0]["field"] == "spec"
        attached = http.patch(f"{API}/volumeattachments/va1/status", json={"status": {"attached": True}},
                              headers=MERGE)
        assert attached.status_code == 200 and attached.json()["status"] == {"attached": True}
        no_source = http.post(f"{API}/volumeattachments", json=_obj(
            "VolumeAttachment", "va2", spec={"attacher": "csi.example.com", "nodeName": "node-1", "source": {}}))
        assert no_source.status_code == 422
        assert no_source.json()["details"]["causes"] == [{
            "reason": "FieldValueRequired", "field": "spec.source",
            "message": "Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"}]
    lines = kernel.kubectl("get", "volumeattachments").stdout.splitlines()
    assert lines[0].split() == ["NAME", "ATTACHER", "PV", "NODE", "ATTACHED", "AGE"]
    assert lines[1].split()[:5] == ["va1", "csi.example.com", "pv-1", "node-1", "true"]


def test_storageclass_defaults_apply_on_update_too() -> None:
    obj = _obj("StorageClass", "x", provisioner="p.example.com")
    storageclass_spec.strategy.default(obj)
    assert (obj["reclaimPolicy"], obj["volumeBindingMode"]) == ("Delete", "Immediate")
