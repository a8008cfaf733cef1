"""autoscaling/v1 ↔ autoscaling/v2 HorizontalPodAutoscaler (kube's pkg/apis/autoscaling/v1
conversion, applied between v1 and the stored v2).

v1 has one metric field, ``targetCPUUtilizationPercentage`` (and ``currentCPUUtilizationPercentage``
in status): it is v2's Resource ``cpu`` metric with a Utilization target. Whatever else v2 holds
(other metrics, their current values, conditions, behavior) rides in v1 as JSON annotations, so a
v1 client's read-modify-write keeps it; those annotations are never stored.
"""

from __future__ import annotations

import json
from typing import Any

Object = dict[str, Any]

METRICS = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
SCALE_DOWN_TOLERANCE = "autoscaling.alpha.kubernetes.io/scale-down-tolerance"
SCALE_UP_TOLERANCE = "autoscaling.alpha.kubernetes.io/scale-up-tolerance"
ROUND_TRIP = (METRICS, CURRENT_METRICS, CONDITIONS, BEHAVIOR, SCALE_DOWN_TOLERANCE, SCALE_UP_TOLERANCE)
DEFAULT_CPU_UTILIZATION = 80


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _drop_none(d: Object) -> Object:
    return {k: v for k, v in d.items() if v is not None}


def _ref(ref: Any) -> Object:
    ref = ref if isinstance(ref, dict) else {}
    return _drop_none({"kind": ref.get("kind", ""), "name": ref.get("name", ""),
                       "apiVersion": ref.get("apiVersion")})


def cpu_utilization_metric(percent: int) -> Object:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                       "averageUtilization": percent}}}


def _is_cpu_utilization(metric: Object) -> bool:
    resource = metric.get("resource") or {}
    return (metric.get("type") == "Resource" and resource.get("name") == "cpu"
            and (resource.get("target") or {}).get("averageUtilization") is not None)


# -- metric specs -------------------------------------------------------------------------------

def _spec_to_v1(metric: Object) -> Object:
    out: Object = {"type": metric.get("type", "")}
    if (src := metric.get("object")) is not None:
        target, ident = src.get("target") or {}, src.get("metric") or {}
        out["object"] = _drop_none({"target": _ref(src.get("describedObject")), "metricName": ident.get("name", ""),
                                    "targetValue": target.get("value") or "0", "selector": ident.get("selector"),
                                    "averageValue": target.get("averageValue")})
    if (src := metric.get("pods")) is not None:
        target, ident = src.get("target") or {}, src.get("metric") or {}
        out["pods"] = _drop_none({"metricName": ident.get("name", ""), "selector": ident.get("selector"),
                                  "targetAverageValue": target.get("averageValue") or "0"})
    for key in ("resource", "containerResource"):
        if (src := metric.get(key)) is not None:
            target = src.get("target") or {}
            out[key] = _drop_none({"name": src.get("name", ""), "container": src.get("container"),
                                   "targetAverageUtilization": target.get("averageUtilization"),
                                   "targetAverageValue": target.get("averageValue")})
    if (src := metric.get("external")) is not None:
        target, ident = src.get("target") or {}, src.get("metric") or {}
        out["external"] = _drop_none({"metricName": ident.get("name", ""), "metricSelector": ident.get("selector"),
                                      "targetValue": target.get("value"),
                                      "targetAverageValue": target.get("averageValue")})
    return out


def _spec_from_v1(metric: Object) -> Object:
    out: Object = {"type": metric.get("type", "")}
    if (src := metric.get("object")) is not None:
        average = src.get("averageValue")
        value = src.get("targetValue")
        if average is not None and value in (None, "0", 0):
            value = None
        out["object"] = {"describedObject": _ref(src.get("target")),
                         "metric": _drop_none({"name": src.get("metricName", ""), "selector": src.get("selector")}),
                         "target": _drop_none({"type": "Value" if average is None else "AverageValue",
                                               "value": value, "averageValue": average})}
    if (src := metric.get("pods")) is not None:
        out["pods"] = {"metric": _drop_none({"name": src.get("metricName", ""), "selector": src.get("selector")}),
                       "target": {"type": "AverageValue", "averageValue": src.get("targetAverageValue") or "0"}}
    for key in ("resource", "containerResource"):
        if (src := metric.get(key)) is not None:
            utilization = src.get("targetAverageUtilization")
            out[key] = _drop_none({
                "name": src.get("name", ""), "container": src.get("container"),
                "target": _drop_none({"type": "AverageValue" if utilization is None else "Utilization",
                                      "averageUtilization": utilization,
                                      "averageValue": src.get("targetAverageValue")})})
    if (src := metric.get("external")) is not None:
        value = src.get("targetValue")
        out["external"] = {"metric": _drop_none({"name": src.get("metricName", ""),
                                                 "selector": src.get("metricSelector")}),
                           "target": _drop_none({"type": "AverageValue" if value is None else "Value", "value": value,
                                                 "averageValue": src.get("targetAverageValue")})}
    return out


# -- metric statuses ----------------------------------------------------------------------------

def _status_to_v1(metric: Object) -> Object:
    out: Object = {"type": metric.get("type", "")}
    if (src := metric.get("object")) is not None:
        current, ident = src.get("current") or {}, src.get("metric") or {}
        out["object"] = _drop_none({"target": _ref(src.get("describedObject")), "metricName": ident.get("name", ""),
                                    "currentValue": current.get("value") or "0", "selector": ident.get("selector"),
                                    "averageValue": current.get("averageValue")})
    if (src := metric.get("pods")) is not None:
        current, ident = src.get("current") or {}, src.get("metric") or {}
        out["pods"] = _drop_none({"metricName": ident.get("name", ""), "selector": ident.get("selector"),
                                  "currentAverageValue": current.get("averageValue") or "0"})
    for key in ("resource", "containerResource"):
        if (src := metric.get(key)) is not None:
            current = src.get("current") or {}
            out[key] = _drop_none({"name": src.get("name", ""), "container": src.get("container"),
                                   "currentAverageUtilization": current.get("averageUtilization"),
                                   "currentAverageValue": current.get("averageValue") or "0"})
    if (src := metric.get("external")) is not None:
        current, ident = src.get("current") or {}, src.get("metric") or {}
        out["external"] = _drop_none({"metricName": ident.get("name", ""), "metricSelector": ident.get("selector"),
                                      "currentValue": current.get("value") or "0",
                                      "currentAverageValue": current.get("averageValue")})
    return out


def _status_from_v1(metric: Object) -> Object:
    out: Object = {"type": metric.get("type", "")}
    if (src := metric.get("object")) is not None:
        out["object"] = {"describedObject": _ref(src.get("target")),
                         "metric": _drop_none({"name": src.get("metricName", ""), "selector": src.get("selector")}),
                         "current": _drop_none({"value": src.get("currentValue") or "0",
                                                "averageValue": src.get("averageValue")})}
    if (src := metric.get("pods")) is not None:
        out["pods"] = {"metric": _drop_none({"name": src.get("metricName", ""), "selector": src.get("selector")}),
                       "current": {"averageValue": src.get("currentAverageValue") or "0"}}
    for key in ("resource", "containerResource"):
        if (src := metric.get(key)) is not None:
            out[key] = _drop_none({"name": src.get("name", ""), "container": src.get("container"),
                                   "current": _drop_none({"averageValue": src.get("currentAverageValue") or "0",
                                                          "averageUtilization": src.get("currentAverageUtilization")})})
    if (src := metric.get("external")) is not None:
        out["external"] = {"metric": _drop_none({"name": src.get("metricName", ""),
                                                 "selector": src.get("metricSelector")}),
                           "current": _drop_none({"value": src.get("currentValue") or "0",
                                                  "averageValue": src.get("currentAverageValue")})}
    return out


# -- objects ------------------------------------------------------------------------------------

def _loads(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None  # kube ignores an annotation it cannot decode


def v2_to_v1(obj: Object) -> Object:
    """A stored (v2) HorizontalPodAutoscaler as autoscaling/v1 shows it."""
    meta = dict(obj.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in ROUND_TRIP}
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    metrics = [m for m in spec.get("metrics") or [] if isinstance(m, dict)]
    out_spec: Object = {"scaleTargetRef": _ref(spec.get("scaleTargetRef"))}
    if spec.get("minReplicas") is not None:
        out_spec["minReplicas"] = spec["minReplicas"]
    out_spec["maxReplicas"] = spec.get("maxReplicas", 0)
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    if cpu is not None:
        out_spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"]["averageUtilization"]
    others = [_spec_to_v1(m) for m in metrics if not _is_cpu_utilization(m)]
    if others:
        annotations[METRICS] = _json(others)
    current = [m for m in status.get("currentMetrics") or [] if isinstance(m, dict)]
    if current:
        annotations[CURRENT_METRICS] = _json([_status_to_v1(m) for m in current])
    if spec.get("behavior") is not None:
        annotations[BEHAVIOR] = _json(spec["behavior"])
    if status.get("conditions"):
        annotations[CONDITIONS] = _json(status["conditions"])
    out_status: Object = _drop_none({"observedGeneration": status.get("observedGeneration"),
                                     "lastScaleTime": status.get("lastScaleTime"),
                                     "currentReplicas": status.get("currentReplicas", 0),
                                     "desiredReplicas": status.get("desiredReplicas", 0)})
    for metric in current:
        resource = metric.get("resource") or {}
        utilization = (resource.get("current") or {}).get("averageUtilization")
        if metric.get("type") == "Resource" and resource.get("name") == "cpu" and utilization is not None:
            out_status["currentCPUUtilizationPercentage"] = utilization
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": meta,
            "spec": out_spec, "status": out_status}


def v1_to_v2(obj: Object) -> Object:
    """An autoscaling/v1 HorizontalPodAutoscaler as it is stored (v2)."""
    meta = dict(obj.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    spec = obj.get("spec") or {}
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    out_spec: Object = {"scaleTargetRef": _ref(spec.get("scaleTargetRef"))}
    if spec.get("minReplicas") is not None:
        out_spec["minReplicas"] = spec["minReplicas"]
    out_spec["maxReplicas"] = spec.get("maxReplicas", 0)
    metrics: list[Object] = []
    others = _loads(annotations.get(METRICS))
    if isinstance(others, list):
        metrics += [_spec_from_v1(m) for m in others if isinstance(m, dict)]
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics.append(cpu_utilization_metric(spec["targetCPUUtilizationPercentage"]))
    # no metric at all: the default target, as kube's conversion writes it
    out_spec["metrics"] = metrics or [cpu_utilization_metric(DEFAULT_CPU_UTILIZATION)]
    behavior = _loads(annotations.get(BEHAVIOR))
    if isinstance(behavior, dict) and behavior:
        out_spec["behavior"] = behavior
    out_status: Object = _drop_none({"observedGeneration": status.get("observedGeneration"),
                                     "lastScaleTime": status.get("lastScaleTime"),
                                     "currentReplicas": status.get("currentReplicas") or None,
                                     "desiredReplicas": status.get("desiredReplicas", 0)})
    if status.get("currentCPUUtilizationPercentage") is not None:
        out_status["currentMetrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": status["currentCPUUtilizationPercentage"]}}}]
    current = _loads(annotations.get(CURRENT_METRICS))
    if isinstance(current, list):
        out_status["currentMetrics"] = [_status_from_v1(m) for m in current if isinstance(m, dict)]
    conditions = _loads(annotations.get(CONDITIONS))
    if isinstance(conditions, list):
        out_status["conditions"] = conditions
    for key in ROUND_TRIP:
        annotations.pop(key, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out: Object = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta,
                   "spec": out_spec}
    if "status" in obj:
        out["status"] = out_status
    return out
