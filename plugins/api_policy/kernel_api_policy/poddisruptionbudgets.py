"""poddisruptionbudgets (policy/v1 PodDisruptionBudget): strategy, validation and printer columns
as kube-apiserver has them (pkg/registry/policy/poddisruptionbudget, pkg/apis/policy/validation)."""

from __future__ import annotations

import copy
from typing import Any

from kernel.apimachinery.commonvalidation import nonnegative, positive_int_or_percent, validate_label_selector
from kernel.apimachinery.validation import FieldError, GoLiteral
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, StatusStrategy, Strategy, TableColumn

from kernel_api_policy.types import TYPES

GROUP, VERSION, KIND = "policy", "v1", "PodDisruptionBudget"
SCHEMA_NAME = "io.k8s.api.policy.v1.PodDisruptionBudget"
DESCRIPTION = ("PodDisruptionBudget is an object to define the max disruption that can be caused to a "
               "collection of pods")
UNHEALTHY_POD_EVICTION_POLICIES = ("AlwaysAllow", "IfHealthyBudget")
STATUS_COUNTS = ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")


def _spec(obj: Object) -> Object:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _carry(obj: Object, old: Object, key: str) -> None:
    if key in old:
        obj[key] = copy.deepcopy(old[key])
    else:
        obj.pop(key, None)


def validate_spec(spec: Object) -> list[FieldError]:
    """ValidatePodDisruptionBudgetSpec, at ``spec``."""
    errs: list[FieldError] = []
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        # kube prints its internal Go struct here (%#v, with pointer addresses); this is its shape
        errs.append(FieldError.invalid("spec", GoLiteral(
            f"policy.PodDisruptionBudgetSpec{{MinAvailable:{min_available!r}, "
            f"MaxUnavailable:{max_unavailable!r}}}"), "minAvailable and maxUnavailable cannot be both set"))
    if min_available is not None:
        errs += positive_int_or_percent(min_available, "spec.minAvailable")
    if max_unavailable is not None:
        errs += positive_int_or_percent(max_unavailable, "spec.maxUnavailable")
    errs += validate_label_selector(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
        errs.append(FieldError.not_supported("spec.unhealthyPodEvictionPolicy", policy,
                                             UNHEALTHY_POD_EVICTION_POLICIES))
    return errs


class PodDisruptionBudgetStrategy(Strategy):
    """Status is written through /status only; generation counts spec changes."""

    track_generation = True
    allow_create_on_update = False
    allow_unconditional_update = True

    def prepare_for_create(self, obj: Object) -> None:
        obj["status"] = {}

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        _carry(obj, old, "status")

    def validate(self, obj: Object) -> list[Any]:
        return validate_spec(_spec(obj))

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return validate_spec(_spec(obj))


class PodDisruptionBudgetStatusStrategy(StatusStrategy):
    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        """ValidatePodDisruptionBudgetStatusUpdate for policy/v1: the counts are never negative."""
        status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
        errs: list[FieldError] = []
        for key in STATUS_COUNTS:
            errs += nonnegative(status.get(key), f"status.{key}")
        return errs


def _int_or_string(value: Any) -> str:
    return "N/A" if value is None else str(value)


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Min Available", "string", lambda o: _int_or_string(_spec(o).get("minAvailable")),
                description="The minimum number of pods that must be available."),
    TableColumn("Max Unavailable", "string", lambda o: _int_or_string(_spec(o).get("maxUnavailable")),
                description="The maximum number of pods that may be unavailable."),
    TableColumn("Allowed Disruptions", "integer",
                lambda o: int((o.get("status") or {}).get("disruptionsAllowed") or 0),
                description="Calculated number of pods that may be disrupted at this time."),
    AGE_COLUMN,
)

pdb_spec = ResourceSpec(
    group=GROUP,
    version=VERSION,
    kind=KIND,
    plural="poddisruptionbudgets",
    singular="poddisruptionbudget",
    namespaced=True,
    **TYPES.spec_fields(KIND),
    short_names=("pdb",),
    subresources=("status",),
    strategy=PodDisruptionBudgetStrategy(),
    subresource_strategies={"status": PodDisruptionBudgetStatusStrategy()},
    table_columns=TABLE_COLUMNS,
    description=DESCRIPTION,
)
