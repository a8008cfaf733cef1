"""autoscaling/v1 ↔ v2 conversion, v2 defaulting and validation."""

from __future__ import annotations

import copy
import json

from kernel_api_autoscaling import hpa_v1_spec, hpa_v2_spec
from kernel_api_autoscaling.conversion import METRICS, v1_to_v2, v2_to_v1

REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
PODS_METRIC = {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                        "target": {"type": "AverageValue", "averageValue": "10"}}}


def _v1(**spec) -> dict:
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 3, **spec}}


def test_specs_share_one_storage() -> None:
    assert hpa_v1_spec.storage_resource == hpa_v2_spec.storage_resource == ("autoscaling", "horizontalpodautoscalers")
    assert hpa_v1_spec.storage_prefix == hpa_v2_spec.storage_prefix == "/registry/horizontalpodautoscalers/"
    assert hpa_v2_spec.conversion is None


def test_cpu_target_becomes_a_resource_metric_and_back() -> None:
    stored = v1_to_v2(_v1(targetCPUUtilizationPercentage=50))
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    stored["status"] = {"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 41,
                                                                      "averageValue": "120m"}}}]}
    shown = v2_to_v1(stored)
    assert shown["spec"]["targetCPUUtilizationPercentage"] == 50
    assert shown["status"]["currentCPUUtilizationPercentage"] == 41
    assert shown["status"]["currentReplicas"] == 2


def test_no_target_gets_the_default_80_percent() -> None:
    stored = v1_to_v2(_v1())
    assert stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    assert v2_to_v1(stored)["spec"]["targetCPUUtilizationPercentage"] == 80


def test_other_metrics_ride_in_an_annotation_and_survive_a_v1_round_trip() -> None:
    stored = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
              "metadata": {"name": "web"},
              "spec": {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 3, "metrics": [
                  PODS_METRIC, {"type": "Resource", "resource": {"name": "cpu", "target": {
                      "type": "Utilization", "averageUtilization": 60}}}]},
              "status": {"desiredReplicas": 0}}
    shown = v2_to_v1(copy.deepcopy(stored))
    assert json.loads(shown["metadata"]["annotations"][METRICS]) == [
        {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}}]
    back = v1_to_v2(copy.deepcopy(shown))
    assert back["spec"]["metrics"] == stored["spec"]["metrics"]  # others first, cpu last, as kube
    assert "annotations" not in back["metadata"]  # never stored


def test_v2_defaults_and_validation() -> None:
    obj = {"metadata": {"name": "web"}, "spec": {"scaleTargetRef": REF, "maxReplicas": 3,
                                                 "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}
    hpa_v2_spec.strategy.prepare_for_create(obj)
    assert obj["spec"]["minReplicas"] == 1 and obj["status"] == {"desiredReplicas": 0}
    assert obj["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 80}
    assert obj["spec"]["behavior"]["scaleDown"] == {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                                                    "policies": [{"type": "Percent", "value": 100,
                                                                  "periodSeconds": 15}]}
    assert obj["spec"]["behavior"]["scaleUp"]["policies"][0] == {"type": "Pods", "value": 4, "periodSeconds": 15}
    assert hpa_v2_spec.strategy.validate(obj) == []
    bad = {"metadata": {"name": "web"}, "spec": {"scaleTargetRef": {"kind": "Deployment"}, "minReplicas": 5,
                                                 "maxReplicas": 2, "metrics": [PODS_METRIC | {"type": "Resource"}]}}
    assert [str(e) for e in hpa_v2_spec.strategy.validate(bad)] == [
        "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
        "spec.scaleTargetRef.name: Required value",
        # one source present (the wrong one): kube reports only the missing one
        "spec.metrics[0].resource: Required value: must populate information for the given metric source"]


def test_v1_table_prints_through_the_v2_columns() -> None:
    from kernel.endpoints.table import build_table
    shown = v2_to_v1(v1_to_v2(_v1(targetCPUUtilizationPercentage=50)) | {"status": {"currentReplicas": 2}})
    table = build_table(hpa_v1_spec.table_columns, [shown])
    assert table["rows"][0]["cells"][:6] == ["web", "Deployment/web", "cpu: <unknown>/50%", "1", 3, 2]
