"""horizontalpodautoscalers at autoscaling/v1 and v2 from one store, through a real server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.testing import KUBECTL, KernelProcess, start_kernel

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason=f"{KUBECTL} is not installed")

V1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
V2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
# kubectl autoscale reads the target's scale subresource, then sends the HPA as protobuf


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    running = start_kernel(tmp_path_factory.mktemp("hpa"))
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def test_discovery_prefers_v2(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        group = client.get("/apis/autoscaling").json()
        assert [v["version"] for v in group["versions"]] == ["v2", "v1"]
        assert group["preferredVersion"]["version"] == "v2"
        hashes = {v: next(r["storageVersionHash"] for r in client.get(f"/apis/autoscaling/{v}").json()["resources"]
                          if r["name"] == "horizontalpodautoscalers") for v in ("v1", "v2")}
        assert hashes["v1"] == hashes["v2"]  # one storage version


def test_created_in_v1_read_in_both(kernel: KernelProcess) -> None:
    body = {"metadata": {"name": "a"},
            "spec": {"scaleTargetRef": REF, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}}
    with kernel.client() as client:
        created = client.post(V1, json=body)
        assert created.status_code == 201, created.text
        assert created.json()["apiVersion"] == "autoscaling/v1"
        assert created.json()["spec"] == {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 3,
                                          "targetCPUUtilizationPercentage": 50}
        assert created.json()["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
        v2 = client.get(f"{V2}/a").json()
        assert v2["apiVersion"] == "autoscaling/v2"
        assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
        assert v2["metadata"]["resourceVersion"] == created.json()["metadata"]["resourceVersion"]
        # status written in v2 shows in v1
        status = {"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 33}}}]}
        written = client.patch(f"{V2}/a/status", json={"status": status},
                               headers={"content-type": "application/merge-patch+json"})
        assert written.status_code == 200, written.text
        v1 = client.get(f"{V1}/a").json()
        assert v1["status"]["currentCPUUtilizationPercentage"] == 33 and v1["status"]["currentReplicas"] == 2
        listed = client.get(V1).json()
        assert listed["kind"] == "HorizontalPodAutoscalerList" and listed["apiVersion"] == "autoscaling/v1"
        assert {i["apiVersion"] for i in listed["items"]} == {"autoscaling/v1"}


def test_v1_update_keeps_v2_only_metrics(kernel: KernelProcess) -> None:
    pods = {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                     "target": {"type": "AverageValue", "averageValue": "10"}}}
    body = {"metadata": {"name": "b"}, "spec": {"scaleTargetRef": REF, "maxReplicas": 5, "metrics": [pods]}}
    with kernel.client() as client:
        assert client.post(V2, json=body).status_code == 201
        v1 = client.get(f"{V1}/b").json()
        assert "targetCPUUtilizationPercentage" not in v1["spec"]
        v1["spec"]["maxReplicas"] = 6
        updated = client.put(f"{V1}/b", json=v1)
        assert updated.status_code == 200, updated.text
        v2 = client.get(f"{V2}/b").json()
        assert v2["spec"]["maxReplicas"] == 6 and v2["spec"]["metrics"] == [pods]
        assert "autoscaling.alpha.kubernetes.io/metrics" not in (v2["metadata"].get("annotations") or {})
        deleted = client.delete(f"{V1}/b")
        assert deleted.status_code == 200 and deleted.json()["details"]["uid"] == v2["metadata"]["uid"]
        assert client.get(f"{V2}/b").status_code == 404


def test_watch_in_v1_sees_v1_objects(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        rv = client.get(V1).json()["metadata"]["resourceVersion"]
        body = {"metadata": {"name": "w"}, "spec": {"scaleTargetRef": REF, "maxReplicas": 2}}
        assert client.post(V2, json=body).status_code == 201
        with client.stream("GET", f"{V1}?watch=1&resourceVersion={rv}&timeoutSeconds=5") as response:
            event = json.loads(next(response.iter_lines()))
    assert event["type"] == "ADDED" and event["object"]["apiVersion"] == "autoscaling/v1"
    assert event["object"]["spec"]["targetCPUUtilizationPercentage"] == 80  # v2's default target


def test_invalid_in_v1_is_422_and_changes_nothing(kernel: KernelProcess) -> None:
    body = {"metadata": {"name": "bad"}, "spec": {"scaleTargetRef": REF, "minReplicas": 4, "maxReplicas": 2}}
    with kernel.client() as client:
        response = client.post(V1, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["message"] == (
            'HorizontalPodAutoscaler.autoscaling "bad" is invalid: spec.maxReplicas: Invalid value: 2: must be '
            "greater than or equal to `minReplicas`")
        assert client.get(f"{V2}/bad").status_code == 404


def test_kubectl_get_hpa(kernel: KernelProcess) -> None:
    lines = kernel.kubectl("get", "hpa", "a").stdout.splitlines()
    assert lines[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert lines[1].split()[:7] == ["a", "Deployment/web", "cpu:", "33%/50%", "1", "3", "2"]


def test_kubectl_autoscale(kernel: KernelProcess, tmp_path: Path) -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                      "metadata": {"labels": {"app": "web"}},
                      "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}}
    manifest = tmp_path / "web.json"
    manifest.write_text(json.dumps(deployment))
    kernel.kubectl("apply", "-f", str(manifest))
    kernel.kubectl("autoscale", "deployment", "web", "--min=1", "--max=3", "--cpu-percent=50")
    hpa = kernel.kubectl_json("get", "hpa", "web")
    assert hpa["spec"]["maxReplicas"] == 3


def test_left_out_with_plugins_flag(tmp_path: Path) -> None:
    running = start_kernel(tmp_path, "--plugins=api_core,storage_memory")
    try:
        with running.client() as client:
            assert "autoscaling" not in [g["name"] for g in client.get("/apis").json()["groups"]]
            assert client.get(V1).status_code == 404 and client.get(V2).status_code == 404
    finally:
        running.stop()
