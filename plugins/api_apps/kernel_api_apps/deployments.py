"""deployments (apps/v1 Deployment): v1 defaulting, kube's validation, status only through
/status, generation on spec (and annotation) changes, and kubectl's printer columns."""

from __future__ import annotations

from typing import Any

from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.subresources import ScaleSpec
from kernel.registry.resource import Object, ResourceSpec, TableColumn
from kernel.apimachinery.validation import FieldError

from kernel_api_apps import podtemplate, workload as w
from kernel_api_apps.status import ReplicasStatusStrategy, replica_count_errors
from kernel_api_apps.types import TYPES

SCHEMA_NAME = "io.k8s.api.apps.v1.Deployment"
DESCRIPTION = "Deployment enables declarative updates for Pods and ReplicaSets."
ROLLING_UPDATE, RECREATE = "RollingUpdate", "Recreate"


def default(obj: Object) -> None:
    """SetDefaults_Deployment (pkg/apis/apps/v1/defaults.go) and the template's pod defaults."""
    spec = w.section(obj, "spec")
    spec.setdefault("replicas", 1)
    strategy = w.section(spec, "strategy")
    strategy.setdefault("type", ROLLING_UPDATE)
    if strategy["type"] == ROLLING_UPDATE:
        rolling = w.section(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    podtemplate.default_template(spec.get("template"))


def validate_strategy(strategy: Any, path: str) -> list[FieldError]:
    """ValidateDeploymentStrategy."""
    strategy = strategy if isinstance(strategy, dict) else {}
    kind, rolling = strategy.get("type") or "", strategy.get("rollingUpdate")
    if kind == RECREATE:
        if rolling is not None:
            return [FieldError.forbidden(f"{path}.rollingUpdate",
                                         "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == ROLLING_UPDATE:
        if not isinstance(rolling, dict):
            return [FieldError.required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        here = f"{path}.rollingUpdate"
        unavailable, surge = rolling.get("maxUnavailable", 0), rolling.get("maxSurge", 0)
        errs = w.positive_int_or_percent(unavailable, f"{here}.maxUnavailable")
        errs += w.positive_int_or_percent(surge, f"{here}.maxSurge")
        if w.int_or_percent_value(unavailable) == 0 and w.int_or_percent_value(surge) == 0:
            errs.append(FieldError.invalid(f"{here}.maxUnavailable", w.GoLiteral(str(unavailable)),
                                           "may not be 0 when `maxSurge` is 0"))
        return errs + w.not_more_than_100_percent(unavailable, f"{here}.maxUnavailable")
    return [FieldError.not_supported(path, strategy, (RECREATE, ROLLING_UPDATE))]


def validate_spec(spec: Object) -> list[FieldError]:
    """ValidateDeploymentSpec."""
    errs = w.nonnegative(spec.get("replicas"), "spec.replicas")
    errs += w.validate_selector_and_template(spec, "spec", "deployment")
    errs += podtemplate.validate_template(spec.get("template"), "spec.template")
    errs += _restart_always(spec.get("template"), "spec.template.spec", "ReplicaSet")
    errs += validate_strategy(spec.get("strategy"), "spec.strategy")
    min_ready = spec.get("minReadySeconds") or 0
    errs += w.nonnegative(min_ready, "spec.minReadySeconds")
    errs += w.nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int):
        errs += w.nonnegative(deadline, "spec.progressDeadlineSeconds")
        if isinstance(min_ready, int) and deadline <= min_ready:
            errs.append(FieldError.invalid("spec.progressDeadlineSeconds", deadline,
                                           "must be greater than minReadySeconds"))
    return errs


def _restart_always(template: Any, path: str, kind: str) -> list[FieldError]:
    """Pods of a ReplicaSet (and so of a Deployment), StatefulSet or DaemonSet always restart."""
    pod = w.pod_template_spec(template)
    errs: list[FieldError] = []
    policy = pod.get("restartPolicy") or ""
    if policy != "Always":
        errs.append(FieldError.not_supported(f"{path}.restartPolicy", policy, ("Always",)))
    if pod.get("activeDeadlineSeconds") is not None:
        errs.append(FieldError.forbidden(f"{path}.activeDeadlineSeconds",
                                         f"activeDeadlineSeconds in {kind} is not Supported"))
    return errs


def validate_status(status: Object) -> list[FieldError]:
    """ValidateDeploymentStatus."""
    return replica_count_errors(
        status, ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                 "unavailableReplicas", "terminatingReplicas", "collisionCount"),
        ("updatedReplicas", "readyReplicas", "availableReplicas"))


def _ready(obj: Object) -> str:
    return f"{w.status_of(obj).get('readyReplicas') or 0}/{w.spec_of(obj).get('replicas') or 0}"


def _selector(obj: Object) -> str:
    parsed = w.parse_selector(w.spec_of(obj).get("selector"))
    return "<invalid>" if parsed is None else str(parsed)


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Ready", "string", _ready, description="Number of the pod with ready state"),
    TableColumn("Up-to-date", "string", lambda o: w.status_of(o).get("updatedReplicas") or 0,
                description="Total number of non-terminating pods targeted by this deployment that have "
                            "the desired template spec."),
    TableColumn("Available", "string", lambda o: w.status_of(o).get("availableReplicas") or 0,
                description="Total number of available non-terminating pods (ready for at least "
                            "minReadySeconds) targeted by this deployment."),
    AGE_COLUMN,
    TableColumn("Containers", "string", lambda o: w.containers_cells(w.spec_of(o).get("template"))[0],
                priority=1, description="Names of each container in the template."),
    TableColumn("Images", "string", lambda o: w.containers_cells(w.spec_of(o).get("template"))[1],
                priority=1, description="Images referenced by each container in the template."),
    TableColumn("Selector", "string", _selector, priority=1,
                description="Label selector for pods. Existing ReplicaSets whose pods are selected by this "
                            "will be the ones affected by this deployment. It must match the pod template's "
                            "labels."),
)

deployment_spec = ResourceSpec(
    group="apps", version="v1", kind="Deployment", plural="deployments", singular="deployment",
    namespaced=True,
    **TYPES.spec_fields("Deployment"),
    short_names=("deploy",), categories=("all",),
    subresources=("status",),
    scale=ScaleSpec(),  # .spec.replicas, .status.replicas, .spec.selector
    strategy=w.WorkloadStrategy(default, validate_spec, annotations_bump_generation=True),
    subresource_strategies={"status": ReplicasStatusStrategy(validate_status)},
    table_columns=TABLE_COLUMNS, description=DESCRIPTION,
)

