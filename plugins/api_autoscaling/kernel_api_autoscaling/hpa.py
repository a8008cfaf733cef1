"""horizontalpodautoscalers: stored as autoscaling/v2 (defaulting, validation, /status, printer
columns), also served as autoscaling/v1 from the same storage (the kernel's StorageConversion)."""

from __future__ import annotations

import copy
from typing import Any

from kernel.apimachinery import validation
from kernel.apimachinery.validation import FieldError
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, StorageConversion, Strategy, TableColumn
from kernel_api_apps import workload as w
from kernel_api_apps.status import ReplicasStatusStrategy

from kernel_api_autoscaling import conversion
from kernel_api_autoscaling.types import TYPES

DESCRIPTION = ("HorizontalPodAutoscaler is the configuration for a horizontal pod autoscaler, which "
               "automatically manages the replica count of any resource implementing the scale subresource "
               "based on the metrics specified.")
V1_DESCRIPTION = "configuration of a horizontal pod autoscaler."
METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
_SOURCE_FIELD = {"Object": "object", "Pods": "pods", "Resource": "resource", "External": "external",
                 "ContainerResource": "containerResource"}
SCALE_UP_RULES = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
    {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]}
SCALE_DOWN_RULES = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _rules(given: Any, defaults: Object) -> Object:
    """copyHPAScalingRules: the given rules' fields over the defaults."""
    rules = copy.deepcopy(defaults)
    for key in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
        if isinstance(given, dict) and given.get(key) is not None:
            rules[key] = given[key]
    return rules


def default(obj: Object) -> None:
    """SetDefaults_HorizontalPodAutoscaler (autoscaling/v2)."""
    spec = w.section(obj, "spec")
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [conversion.cpu_utilization_metric(conversion.DEFAULT_CPU_UTILIZATION)]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _rules(behavior.get("scaleUp"), SCALE_UP_RULES)
        behavior["scaleDown"] = _rules(behavior.get("scaleDown"), SCALE_DOWN_RULES)


def _validate_ref(ref: Any) -> list[FieldError]:
    ref = ref if isinstance(ref, dict) else {}
    errs: list[FieldError] = []
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        path = f"spec.scaleTargetRef.{key}"
        if not value:
            errs.append(FieldError.required(path, ""))
        else:
            errs += [FieldError.invalid(path, value, m) for m in validation.validate_path_segment_name(value)]
    return errs


def _validate_target(target: Any, path: str) -> list[FieldError]:
    target = target if isinstance(target, dict) else {}
    kind = target.get("type") or ""
    errs: list[FieldError] = []
    if not kind:
        errs.append(FieldError.required(f"{path}.type", "must specify a metric target type"))
    if kind not in ("Utilization", "Value", "AverageValue"):
        errs.append(FieldError.invalid(f"{path}.type", kind, "must be either Utilization, Value, or AverageValue"))
    utilization = target.get("averageUtilization")
    if isinstance(utilization, int) and utilization < 1:
        errs.append(FieldError.invalid(f"{path}.averageUtilization", utilization, "must be greater than 0"))
    return errs


def _validate_metric(metric: Any, path: str) -> list[FieldError]:
    """validateMetricSpec: a known type with (only) its source filled in; resource targets."""
    metric = metric if isinstance(metric, dict) else {}
    kind = metric.get("type") or ""
    errs: list[FieldError] = []
    if not kind:
        errs.append(FieldError.required(f"{path}.type", "must specify a metric source type"))
    if kind not in METRIC_TYPES:
        errs.append(FieldError.not_supported(f"{path}.type", kind, METRIC_TYPES))
    expected = _SOURCE_FIELD.get(kind)
    present = [field for field in ("object", "external", "pods", "resource", "containerResource")
               if metric.get(field) is not None]
    for field in ("resource", "containerResource"):
        if present[:1] == [field]:
            src = metric[field]
            if not src.get("name"):
                errs.append(FieldError.required(f"{path}.{field}.name", "must specify a resource name"))
            errs += _validate_target(src.get("target"), f"{path}.{field}.target")
            target = src.get("target") or {}
            if target.get("averageUtilization") is None and target.get("averageValue") is None:
                errs.append(FieldError.required(f"{path}.{field}.target.averageUtilization",
                                                "must set either a target raw value or a target utilization"))
    if expected is not None and metric.get(expected) is None:
        errs.append(FieldError.required(f"{path}.{expected}", "must populate information for the given metric source"))
    if len(present) != 1:
        errs += [FieldError.forbidden(f"{path}.{field}", "must populate the given metric source only")
                 for field in present if field != expected]
    return errs


def validate_spec(spec: Object) -> list[FieldError]:
    """validateHorizontalPodAutoscalerSpec (HPAScaleToZero off: minReplicas ≥ 1)."""
    errs: list[FieldError] = []
    low, high = spec.get("minReplicas"), spec.get("maxReplicas") or 0
    if isinstance(low, int) and low < 1:
        errs.append(FieldError.invalid("spec.minReplicas", low, "must be greater than or equal to 1"))
    if high < 1:
        errs.append(FieldError.invalid("spec.maxReplicas", high, "must be greater than 0"))
    if isinstance(low, int) and high < low:
        errs.append(FieldError.invalid("spec.maxReplicas", high, "must be greater than or equal to `minReplicas`"))
    errs += _validate_ref(spec.get("scaleTargetRef"))
    for i, metric in enumerate(spec.get("metrics") or []):
        errs += _validate_metric(metric, f"spec.metrics[{i}]")
    return errs


class HorizontalPodAutoscalerStrategy(Strategy):
    """pkg/registry/autoscaling/horizontalpodautoscaler's strategy (no generation tracking)."""

    def prepare_for_create(self, obj: Object) -> None:
        default(obj)
        obj["status"] = {"desiredReplicas": 0}  # the one status field without omitempty

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        default(obj)
        w.keep_old_status(obj, old)

    def validate(self, obj: Object) -> list[Any]:
        return validate_spec(w.spec_of(obj))


class HorizontalPodAutoscalerStatusStrategy(ReplicasStatusStrategy):
    def validate_status(self, status: Object) -> list[FieldError]:
        errs = w.nonnegative(status.get("currentReplicas"), "status.currentReplicas")
        return errs + w.nonnegative(status.get("desiredReplicas"), "status.desiredReplicas")


def _target(spec: Object, current: Any) -> str:
    """One metric of formatHPAMetrics."""
    kind = spec.get("type")
    src = spec.get(_SOURCE_FIELD.get(kind, ""), None) or {}
    cur = (current or {}).get(_SOURCE_FIELD.get(kind, ""), None) if isinstance(current, dict) else None
    target, now = src.get("target") or {}, (cur or {}).get("current") or {}
    if kind in ("Resource", "ContainerResource"):
        if target.get("averageValue") is not None:
            return f"{src.get('name', '')}: {now.get('averageValue') or '<unknown>'}/{target['averageValue']}"
        shown = "<unknown>" if now.get("averageUtilization") is None else f"{now['averageUtilization']}%"
        goal = "<auto>" if target.get("averageUtilization") is None else f"{target['averageUtilization']}%"
        return f"{src.get('name', '')}: {shown}/{goal}"
    if kind == "Pods":
        return f"{now.get('averageValue') or '<unknown>'}/{target.get('averageValue')}"
    if kind in ("Object", "External"):
        if target.get("averageValue") is not None:
            return f"{now.get('averageValue') or '<unknown>'}/{target['averageValue']} (avg)"
        return f"{now.get('value') or '<unknown>'}/{target.get('value')}"
    return "<unknown type>"


def format_metrics(obj: Object) -> str:
    specs = [m for m in w.spec_of(obj).get("metrics") or [] if isinstance(m, dict)]
    if not specs:
        return "<none>"
    statuses = w.status_of(obj).get("currentMetrics") or []
    shown = [_target(m, statuses[i] if i < len(statuses) else None) for i, m in enumerate(specs)]
    if len(shown) > 2:
        return f"{', '.join(shown[:2])} + {len(shown) - 2} more..."
    return ", ".join(shown)


def _reference(obj: Object) -> str:
    ref = w.spec_of(obj).get("scaleTargetRef") or {}
    return f"{ref.get('kind', '')}/{ref.get('name', '')}"


def _min_pods(obj: Object) -> str:
    low = w.spec_of(obj).get("minReplicas")
    return "<unset>" if low is None else str(low)


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Reference", "string", _reference,
                description="scaleTargetRef points to the target resource to scale, and is used to the pods "
                            "for which metrics should be collected, as well as to actually change the replica "
                            "count."),
    TableColumn("Targets", "string", format_metrics,
                description="metrics contains the specifications for which to use to calculate the desired "
                            "replica count (the maximum replica count across all metrics will be used)."),
    TableColumn("MinPods", "string", _min_pods,
                description="minReplicas is the lower limit for the number of replicas to which the "
                            "autoscaler can scale down."),
    TableColumn("MaxPods", "string", lambda o: w.spec_of(o).get("maxReplicas") or 0,
                description="maxReplicas is the upper limit for the number of replicas to which the "
                            "autoscaler can scale up. It cannot be less that minReplicas."),
    TableColumn("Replicas", "string", lambda o: w.status_of(o).get("currentReplicas") or 0,
                description="currentReplicas is current number of replicas of pods managed by this "
                            "autoscaler, as last seen by the autoscaler."),
    AGE_COLUMN,
)


def _converted_column(column: TableColumn) -> TableColumn:
    """A v2 column on a v1 object: kube prints every version through the same printer."""
    return TableColumn(column.name, column.type,
                       lambda o: column.cell(conversion.v1_to_v2(copy.deepcopy(o))),
                       column.format, column.description, column.priority)


def _spec(version: str, description: str, **extra: Any) -> ResourceSpec:
    return ResourceSpec(
        group="autoscaling", version=version, kind="HorizontalPodAutoscaler",
        plural="horizontalpodautoscalers", singular="horizontalpodautoscaler", namespaced=True,
        **TYPES[version].spec_fields("HorizontalPodAutoscaler"),
        short_names=("hpa",), categories=("all",), subresources=("status",),
        description=description,
        **extra)


hpa_v2_spec = _spec("v2", DESCRIPTION, table_columns=TABLE_COLUMNS, strategy=HorizontalPodAutoscalerStrategy(),
                    subresource_strategies={"status": HorizontalPodAutoscalerStatusStrategy()})
class V1Strategy(Strategy):
    """The v2 strategy run on a v1 object converted to v2 (kube runs every version's requests
    through the one internal version's strategy); errors name the v2 fields."""

    def __init__(self, v2: Strategy) -> None:
        self.v2 = v2

    def _in_v2(self, fn: Any, obj: Object, *old: Object) -> Any:
        as_v2 = conversion.v1_to_v2(copy.deepcopy(obj))
        result = fn(as_v2, *(conversion.v1_to_v2(copy.deepcopy(o)) for o in old))
        obj.clear()
        obj.update(conversion.v2_to_v1(as_v2))
        return result

    def prepare_for_create(self, obj: Object) -> None:
        self._in_v2(self.v2.prepare_for_create, obj)

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        self._in_v2(self.v2.prepare_for_update, obj, old)

    def validate(self, obj: Object) -> list[Any]:
        return self.v2.validate(conversion.v1_to_v2(copy.deepcopy(obj)))

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return self.v2.validate_update(conversion.v1_to_v2(copy.deepcopy(obj)),
                                       conversion.v1_to_v2(copy.deepcopy(old)))


hpa_v1_spec = _spec(
    "v1", V1_DESCRIPTION, table_columns=tuple(_converted_column(c) for c in TABLE_COLUMNS),
    strategy=V1Strategy(HorizontalPodAutoscalerStrategy()),
    subresource_strategies={"status": V1Strategy(HorizontalPodAutoscalerStatusStrategy())},
    conversion=StorageConversion("autoscaling", "horizontalpodautoscalers",
                                 lambda o: conversion.v1_to_v2(copy.deepcopy(o)),
                                 lambda o: conversion.v2_to_v1(copy.deepcopy(o)), "v2", "HorizontalPodAutoscaler"))
