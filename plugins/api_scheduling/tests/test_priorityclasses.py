"""PriorityClasses: the system classes at startup, the reserved prefix, defaulting, immutable
value, kubectl create and the table columns."""

from __future__ import annotations


import pytest

from kernel.testing import KernelProcess, start_kernel
from kernel_api_scheduling.priorityclasses import priorityclass_spec

PATH = "/apis/scheduling.k8s.io/v1/priorityclasses"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("sched"), "--plugins=api_core,api_scheduling,storage_memory")
    yield kernel
    kernel.stop()


def test_system_classes_exist_at_startup(kernel: KernelProcess) -> None:
    with kernel.client() as http:
        items = {i["metadata"]["name"]: i for i in http.get(PATH).json()["items"]}
        assert http.get("/readyz/poststarthook/scheduling/bootstrap-system-priority-classes").status_code == 200
    assert items["system-cluster-critical"]["value"] == 2000000000
    assert items["system-node-critical"]["value"] == 2000001000
    assert items["system-node-critical"]["preemptionPolicy"] == "PreemptLowerPriority"
    assert items["system-node-critical"]["description"].startswith("Used for system critical pods")




def test_kubectl_create_priorityclass(kernel: KernelProcess) -> None:
    kernel.kubectl("create", "priorityclass", "proto", "--value=100")
    assert kernel.kubectl_json("get", "priorityclass", "proto")["value"] == 100


def test_kubectl_create_priorityclass_and_columns(kernel: KernelProcess) -> None:
    # kubectl's own object, sent as JSON (kubectl create priorityclass sends protobuf: see above)
    generated = kernel.kubectl("create", "priorityclass", "high", "--value=100", "--description=high",
                               "--dry-run=client", "-o", "json").stdout
    kernel.kubectl("create", "-f", "-", input=generated)
    obj = kernel.kubectl_json("get", "priorityclass", "high")
    assert obj["value"] == 100 and obj["preemptionPolicy"] == "PreemptLowerPriority"
    assert obj.get("globalDefault", False) is False
    lines = kernel.kubectl("get", "pc", "high").stdout.splitlines()
    assert lines[0].split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    cells = lines[1].split()
    assert cells[:3] == ["high", "100", "false"] and cells[4] == "PreemptLowerPriority"


def test_system_prefix_is_reserved(kernel: KernelProcess) -> None:
    with kernel.client() as http:
        response = http.post(PATH, json={"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                         "metadata": {"name": "system-mine"}, "value": 5})
        assert response.status_code == 422
        body = response.json()
        assert body["message"] == (
            'PriorityClass.scheduling.k8s.io "system-mine" is invalid: metadata.name: Forbidden: priority '
            "class names with 'system-' prefix are reserved for system use only. error: system-mine is not "
            "a known system priority class")
        too_high = http.post(PATH, json={"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                         "metadata": {"name": "huge"}, "value": 1000000001})
        assert too_high.status_code == 422
        assert too_high.json()["details"]["causes"] == [{
            "reason": "FieldValueForbidden", "field": "value",
            "message": "Forbidden: maximum allowed value of a user defined priority is 1000000000"}]
        assert http.get(PATH + "/huge").status_code == 404


def test_value_and_preemption_policy_are_immutable(kernel: KernelProcess) -> None:
    with kernel.client() as http:
        http.post(PATH, json={"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                              "metadata": {"name": "fixed"}, "value": 7}).raise_for_status()
        response = http.patch(PATH + "/fixed", json={"value": 8, "preemptionPolicy": "Never"},
                              headers={"Content-Type": "application/merge-patch+json"})
        assert response.status_code == 422
        assert response.json()["message"] == (
            'PriorityClass.scheduling.k8s.io "fixed" is invalid: [value: Forbidden: may not be changed in '
            'an update., preemptionPolicy: Invalid value: "Never": field is immutable]')
        assert http.get(PATH + "/fixed").json()["value"] == 7
        described = http.patch(PATH + "/fixed", json={"description": "still fine"},
                               headers={"Content-Type": "application/merge-patch+json"})
        assert described.status_code == 200 and described.json()["description"] == "still fine"


def test_unknown_preemption_policy() -> None:
    (error,) = priorityclass_spec.strategy.validate({"metadata": {"name": "p"}, "value": 1,
                                                     "preemptionPolicy": "Sometimes"})
    assert str(error) == ('preemptionPolicy: Unsupported value: "Sometimes": supported values: '
                          '"PreemptLowerPriority", "Never"')
