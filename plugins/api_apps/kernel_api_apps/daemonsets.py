"""daemonsets (apps/v1 DaemonSet): defaulting, validation, /status, printer columns."""

from __future__ import annotations

from typing import Any

from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, TableColumn
from kernel.apimachinery.validation import FieldError

from kernel_api_apps import podtemplate, workload as w
from kernel_api_apps.deployments import _restart_always
from kernel_api_apps.status import ReplicasStatusStrategy, nonnegative_fields
from kernel_api_apps.types import TYPES

SCHEMA_NAME = "io.k8s.api.apps.v1.DaemonSet"
DESCRIPTION = "DaemonSet represents the configuration of a daemon set."
ROLLING_UPDATE, ON_DELETE = "RollingUpdate", "OnDelete"


def default(obj: Object) -> None:
    """SetDefaults_DaemonSet, and the template's pod defaults."""
    spec = w.section(obj, "spec")
    strategy = w.section(spec, "updateStrategy")
    strategy.setdefault("type", ROLLING_UPDATE)
    if strategy["type"] == ROLLING_UPDATE:
        rolling = w.section(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    podtemplate.default_template(spec.get("template"))


def _validate_strategy(strategy: Any) -> list[FieldError]:
    """ValidateDaemonSetUpdateStrategy and ValidateRollingUpdateDaemonSet."""
    strategy = strategy if isinstance(strategy, dict) else {}
    kind = strategy.get("type") or ""
    if kind == ON_DELETE:
        return []
    if kind != ROLLING_UPDATE:
        return [FieldError.not_supported("spec.updateStrategy", strategy, (ROLLING_UPDATE, ON_DELETE))]
    rolling = strategy.get("rollingUpdate")
    path = "spec.updateStrategy.rollingUpdate"
    if not isinstance(rolling, dict):
        return [FieldError.required(path, "")]
    unavailable, surge = rolling.get("maxUnavailable", 0), rolling.get("maxSurge", 0)
    errs = w.positive_int_or_percent(unavailable, f"{path}.maxUnavailable")
    errs += w.positive_int_or_percent(surge, f"{path}.maxSurge")
    errs += w.not_more_than_100_percent(unavailable, f"{path}.maxUnavailable")
    errs += w.not_more_than_100_percent(surge, f"{path}.maxSurge")
    has_unavailable, has_surge = w.int_or_percent_value(unavailable) != 0, w.int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        errs.append(FieldError.invalid(f"{path}.maxSurge", w.GoLiteral(str(surge)),
                                       "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(FieldError.required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


def validate_spec(spec: Object) -> list[FieldError]:
    """ValidateDaemonSetSpec: unlike the others, a missing selector shows as a label mismatch."""
    selector = spec.get("selector")
    errs: list[FieldError] = []
    if isinstance(selector, dict):
        errs += w.validate_label_selector(selector, "spec.selector")
    parsed = w.parse_selector(selector)
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if parsed is not None and not parsed.matches(labels):
        errs.append(FieldError.invalid("spec.template.metadata.labels", labels, w.SELECTOR_MISMATCH))
    if isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errs.append(FieldError.invalid("spec.selector", w.selector_go_string(selector),
                                       "empty selector is invalid for daemonset"))
    errs += podtemplate.validate_template(spec.get("template"), "spec.template")
    errs += _restart_always(spec.get("template"), "spec.template.spec", "DaemonSet")
    errs += w.nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += _validate_strategy(spec.get("updateStrategy"))
    return errs + w.nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")


class DaemonSetStrategy(w.WorkloadStrategy):
    """pkg/registry/apps/daemonset's strategy: the selector's immutability is reported first."""

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return w.selector_immutable(obj, old) + self.validate(obj)


def validate_status(status: Object) -> list[FieldError]:
    """validateDaemonSetStatus."""
    return nonnegative_fields(status, ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                                       "numberReady", "observedGeneration", "updatedNumberScheduled",
                                       "numberAvailable", "numberUnavailable", "collisionCount"))


def _count(key: str):
    return lambda o: w.status_of(o).get(key) or 0


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Desired", "integer", _count("desiredNumberScheduled"),
                description="The total number of nodes that should be running the daemon pod (including "
                            "nodes correctly running the daemon pod). More info: "
                            "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    TableColumn("Current", "integer", _count("currentNumberScheduled"),
                description="The number of nodes that are running at least 1 daemon pod and are supposed to "
                            "run the daemon pod. More info: "
                            "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    TableColumn("Ready", "integer", _count("numberReady"),
                description="numberReady is the number of nodes that should be running the daemon pod and "
                            "have one or more of the daemon pod running with a Ready Condition."),
    TableColumn("Up-to-date", "integer", _count("updatedNumberScheduled"),
                description="The total number of nodes that are running updated daemon pod"),
    TableColumn("Available", "integer", _count("numberAvailable"),
                description="The number of nodes that should be running the daemon pod and have one or "
                            "more of the daemon pod running and available (ready for at least "
                            "spec.minReadySeconds)"),
    TableColumn("Node Selector", "string",
                lambda o: w.format_labels(w.pod_template_spec(w.spec_of(o).get("template")).get("nodeSelector")),
                description="NodeSelector is a selector which must be true for the pod to fit on a node. "
                            "Selector which must match a node's labels for the pod to be scheduled on that "
                            "node. More info: "
                            "https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
    AGE_COLUMN,
    TableColumn("Containers", "string", lambda o: w.containers_cells(w.spec_of(o).get("template"))[0],
                priority=1, description="Names of each container in the template."),
    TableColumn("Images", "string", lambda o: w.containers_cells(w.spec_of(o).get("template"))[1],
                priority=1, description="Images referenced by each container in the template."),
    TableColumn("Selector", "string", lambda o: w.format_label_selector(w.spec_of(o).get("selector")),
                priority=1,
                description="A label query over pods that are managed by the daemon set. Must match in "
                            "order to be controlled. It must match the pod template's labels. More info: "
                            "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels"
                            "/#label-selectors"),
)

daemonset_spec = ResourceSpec(
    group="apps", version="v1", kind="DaemonSet", plural="daemonsets", singular="daemonset",
    namespaced=True,
    **TYPES.spec_fields("DaemonSet"),
    short_names=("ds",), categories=("all",),
    subresources=("status",),
    strategy=DaemonSetStrategy(default, validate_spec, {  # the four counts without omitempty
        "currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0}),
    subresource_strategies={"status": ReplicasStatusStrategy(validate_status)},
    table_columns=TABLE_COLUMNS, description=DESCRIPTION,
)
