"""priorityclasses (scheduling.k8s.io/v1 PriorityClass): defaulting, validation and printer
columns as kube-apiserver has them (pkg/apis/scheduling/validation, v1/defaults.go)."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.validation import FieldError
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn

from kernel_api_scheduling.types import TYPES

GROUP, VERSION, KIND = "scheduling.k8s.io", "v1", "PriorityClass"
SCHEMA_NAME = "io.k8s.api.scheduling.v1.PriorityClass"
DESCRIPTION = ("PriorityClass defines mapping from a priority class name to the priority integer value. "
               "The value can be any valid integer.")

SYSTEM_PREFIX = "system-"
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_CRITICAL_PRIORITY = 2 * HIGHEST_USER_DEFINABLE_PRIORITY
#: name -> (value, description); globalDefault is false for both
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": (SYSTEM_CRITICAL_PRIORITY + 1000,
                             "Used for system critical pods that must not be moved from their current node."),
    "system-cluster-critical": (SYSTEM_CRITICAL_PRIORITY,
                                "Used for system critical pods that must run in the cluster, but can be "
                                "moved to another node if necessary."),
}
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")


def _known_system_class_error(name: str, value: Any, global_default: bool) -> str | None:
    """IsKnownSystemPriorityClass's error, or None when ``name`` is one of the system classes as is."""
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"{name} is not a known system priority class"
    expected = SYSTEM_PRIORITY_CLASSES[name][0]
    if value != expected:
        return f"value of {name} PriorityClass must be {expected}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


class PriorityClassStrategy(Strategy):
    allow_create_on_update = False
    allow_unconditional_update = True

    def default(self, obj: Object) -> None:
        # SetDefaults_PriorityClass
        if obj.get("preemptionPolicy") is None:
            obj["preemptionPolicy"] = "PreemptLowerPriority"

    def validate(self, obj: Object) -> list[Any]:
        errs: list[FieldError] = []
        name = (obj.get("metadata") or {}).get("name") or ""
        value = obj.get("value", 0)
        if name.startswith(SYSTEM_PREFIX):
            why = _known_system_class_error(name, value, bool(obj.get("globalDefault")))
            if why:
                errs.append(FieldError.forbidden(
                    "metadata.name", f"priority class names with '{SYSTEM_PREFIX}' prefix are reserved "
                                     f"for system use only. error: {why}"))
        elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
            errs.append(FieldError.forbidden(
                "value", f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"))
        policy = obj.get("preemptionPolicy")
        if policy == "":
            errs.append(FieldError.required("preemptionPolicy"))
        elif policy is not None and policy not in PREEMPTION_POLICIES:
            errs.append(FieldError.not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
        return errs

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        errs: list[FieldError] = []
        if obj.get("value", 0) != old.get("value", 0):
            errs.append(FieldError.forbidden("value", "may not be changed in an update."))
        if obj.get("preemptionPolicy") != old.get("preemptionPolicy"):
            errs.append(FieldError.invalid("preemptionPolicy", obj.get("preemptionPolicy"),
                                           "field is immutable"))
        return errs


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Value", "integer", lambda o: o.get("value", 0),
                description="value represents the integer value of this priority class."),
    TableColumn("Global-Default", "boolean", lambda o: bool(o.get("globalDefault")),
                description="globalDefault specifies whether this PriorityClass should be considered as "
                            "the default priority for pods that do not have any priority class."),
    AGE_COLUMN,
    TableColumn("PreemptionPolicy", "string", lambda o: o.get("preemptionPolicy") or "",
                description="preemptionPolicy is the Policy for preempting pods with lower priority."),
)

priorityclass_spec = ResourceSpec(
    group=GROUP,
    version=VERSION,
    kind=KIND,
    plural="priorityclasses",
    singular="priorityclass",
    namespaced=False,
    **TYPES.spec_fields(KIND),
    short_names=("pc",),
    strategy=PriorityClassStrategy(),
    table_columns=TABLE_COLUMNS,
    description=DESCRIPTION,
)
