"""PodDisruptionBudgets: kube's validation messages, status only through /status, generation,
kubectl create pdb and the table columns (the eviction rules are api_core's, which serves
pods/eviction)."""

from __future__ import annotations

import pytest

from kernel.testing import KernelProcess, start_kernel
from kernel_api_policy import pdb_spec

PATH = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("policy"), "--plugins=api_core,api_policy,storage_memory")
    yield kernel
    kernel.stop()


def _pdb(name: str, **spec) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": spec}


def test_validation_messages() -> None:
    errors = pdb_spec.strategy.validate(_pdb("p", minAvailable="120%", maxUnavailable=-1, selector={
        "matchExpressions": [{"key": "app", "operator": "In"}]}, unhealthyPodEvictionPolicy="Sometimes"))
    texts = [str(e) for e in errors]
    assert texts[0].startswith("spec: Invalid value: ") and texts[0].endswith(
        ": minAvailable and maxUnavailable cannot be both set")
    assert texts[1:] == [
        'spec.minAvailable: Invalid value: "120%": must not be greater than 100%',
        "spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0",
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is "
        "'In' or 'NotIn'",
        'spec.unhealthyPodEvictionPolicy: Unsupported value: "Sometimes": supported values: "AlwaysAllow", '
        '"IfHealthyBudget"',
    ]
    (bad_percent,) = pdb_spec.strategy.validate(_pdb("p", minAvailable="half"))
    assert bad_percent.field == "spec.minAvailable" and "a valid percent string" in str(bad_percent)


def test_kubectl_create_pdb(kernel: KernelProcess) -> None:
    kernel.kubectl("create", "pdb", "proto", "--selector=app=a", "--min-available=1")


def test_kubectl_create_pdb_table_and_reject(kernel: KernelProcess) -> None:
    generated = kernel.kubectl("create", "pdb", "x", "--selector=app=a", "--min-available=1",
                               "--dry-run=client", "-o", "json").stdout
    kernel.kubectl("create", "-f", "-", input=generated)
    obj = kernel.kubectl_json("get", "pdb", "x")
    assert obj["spec"] == {"minAvailable": 1, "selector": {"matchLabels": {"app": "a"}}}
    assert obj["metadata"]["generation"] == 1
    lines = kernel.kubectl("get", "pdb", "x").stdout.splitlines()
    assert lines[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"]
    assert lines[1].split()[:4] == ["x", "1", "N/A", "0"]

    both = kernel.kubectl("create", "-f", "-", check=False,
                          input=generated.replace('"name": "x"', '"name": "y"').replace(
                              '"minAvailable": 1', '"minAvailable": 1, "maxUnavailable": "10%"'))
    assert both.returncode != 0 and "minAvailable and maxUnavailable cannot be both set" in both.stderr
    assert kernel.kubectl("get", "pdb", "y", check=False).returncode != 0


def test_status_only_through_status_and_generation(kernel: KernelProcess) -> None:
    with kernel.client() as http:
        created = http.post(PATH, json={**_pdb("s", maxUnavailable=1, selector={}),
                                        "status": {"disruptionsAllowed": 5}}).json()
        assert created["status"] == {} and created["metadata"]["generation"] == 1
        # status through the main resource is ignored; generation counts spec changes only
        same = http.patch(f"{PATH}/s", json={"status": {"disruptionsAllowed": 3}}, headers=MERGE).json()
        assert same["status"] == {} and same["metadata"]["generation"] == 1
        status = http.patch(f"{PATH}/s/status", json={"status": {"disruptionsAllowed": 2, "observedGeneration": 1},
                                                      "spec": {"maxUnavailable": 9}}, headers=MERGE)
        assert status.status_code == 200
        assert status.json()["status"]["disruptionsAllowed"] == 2 and status.json()["spec"]["maxUnavailable"] == 1
        bumped = http.patch(f"{PATH}/s", json={"spec": {"maxUnavailable": 2}}, headers=MERGE).json()
        assert bumped["metadata"]["generation"] == 2 and bumped["status"]["disruptionsAllowed"] == 2
        negative = http.patch(f"{PATH}/s/status", json={"status": {"currentHealthy": -1}}, headers=MERGE)
        assert negative.status_code == 422
        assert negative.json()["details"]["causes"] == [{
            "reason": "FieldValueInvalid", "field": "status.currentHealthy",
            "message": "Invalid value: -1: must be greater than or equal to 0"}]
