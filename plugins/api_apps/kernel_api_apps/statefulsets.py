"""statefulsets (apps/v1 StatefulSet): defaulting, validation (which spec fields may change),
/status and printer columns."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery import validation
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.subresources import ScaleSpec
from kernel.registry.resource import Object, ResourceSpec, TableColumn
from kernel.apimachinery.validation import FieldError

from kernel_api_apps import podtemplate, workload as w
from kernel_api_apps.deployments import _restart_always
from kernel_api_apps.status import ReplicasStatusStrategy, replica_count_errors
from kernel_api_apps.types import TYPES

SCHEMA_NAME = "io.k8s.api.apps.v1.StatefulSet"
DESCRIPTION = ("StatefulSet represents a set of pods with consistent identities. Identities are defined as:\n"
               "  - Network: A single stable DNS and hostname.\n"
               "  - Storage: As many VolumeClaims as requested.\n\n"
               "The StatefulSet guarantees that a given network identity will always map to the same "
               "storage identity.")
ORDERED_READY, PARALLEL = "OrderedReady", "Parallel"
ROLLING_UPDATE, ON_DELETE = "RollingUpdate", "OnDelete"
RETAIN, DELETE = "Retain", "Delete"
#: The spec fields an update may change (ValidateStatefulSetUpdate).
MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
           "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
FORBIDDEN_UPDATE = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                    "'minReadySeconds' are forbidden")


def default(obj: Object) -> None:
    """SetDefaults_StatefulSet (without the MaxUnavailableStatefulSet alpha gate)."""
    spec = w.section(obj, "spec")
    spec.setdefault("podManagementPolicy", ORDERED_READY)
    strategy = w.section(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = ROLLING_UPDATE
        w.section(strategy, "rollingUpdate")
    if strategy["type"] == ROLLING_UPDATE and isinstance(strategy.get("rollingUpdate"), dict):
        strategy["rollingUpdate"].setdefault("partition", 0)
    retention = w.section(spec, "persistentVolumeClaimRetentionPolicy")
    retention.setdefault("whenDeleted", RETAIN)
    retention.setdefault("whenScaled", RETAIN)
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    podtemplate.default_template(spec.get("template"))


def _validate_strategy(strategy: Object) -> list[FieldError]:
    kind, rolling = strategy.get("type") or "", strategy.get("rollingUpdate")
    if kind == "":
        return [FieldError.required("spec.updateStrategy", "")]
    if kind == ON_DELETE:
        if rolling is not None:
            return [FieldError.invalid("spec.updateStrategy.rollingUpdate", rolling,
                                       f"only allowed for updateStrategy '{ROLLING_UPDATE}'")]
        return []
    if kind == ROLLING_UPDATE:
        return w.nonnegative((rolling or {}).get("partition"), "spec.updateStrategy.rollingUpdate.partition")
    return [FieldError.invalid("spec.updateStrategy", strategy,
                               f"must be '{ROLLING_UPDATE}' or '{ON_DELETE}'")]


def validate_spec(spec: Object) -> list[FieldError]:
    """ValidateStatefulSetSpec."""
    errs: list[FieldError] = []
    policy = spec.get("podManagementPolicy") or ""
    if not policy:
        errs.append(FieldError.required("spec.podManagementPolicy", ""))
    elif policy not in (ORDERED_READY, PARALLEL):
        errs.append(FieldError.invalid("spec.podManagementPolicy", policy,
                                       f"must be '{ORDERED_READY}' or '{PARALLEL}'"))
    errs += _validate_strategy(spec.get("updateStrategy") or {})
    retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    for key in ("whenDeleted", "whenScaled"):
        value = retention.get(key) or ""
        if value not in (RETAIN, DELETE):
            errs.append(FieldError.not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{key}",
                                                 value, (RETAIN, DELETE)))
    errs += w.nonnegative(spec.get("replicas"), "spec.replicas")
    errs += w.nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    service = spec.get("serviceName") or ""
    if service:
        errs += [FieldError.invalid("spec.serviceName", service, m) for m in validation.is_dns1123_label(service)]
    errs += w.validate_selector_and_template(spec, "spec", "statefulset")
    errs += podtemplate.validate_template(spec.get("template"), "spec.template")
    return errs + _restart_always(spec.get("template"), "spec.template.spec", "StatefulSet")


class StatefulSetStrategy(w.WorkloadStrategy):
    """pkg/registry/apps/statefulset's strategy: most of the spec is immutable."""

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        errs = self.validate(obj)
        new_spec, old_spec = w.spec_of(obj), w.spec_of(old)
        if ({k: v for k, v in new_spec.items() if k not in MUTABLE}
                != {k: v for k, v in old_spec.items() if k not in MUTABLE}):
            errs.append(FieldError.forbidden("spec", FORBIDDEN_UPDATE))
        return errs


def validate_status(status: Object) -> list[FieldError]:
    """ValidateStatefulSetStatus."""
    return replica_count_errors(
        status, ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas",
                 "observedGeneration", "collisionCount"),
        ("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"))


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Ready", "string", lambda o: f"{w.status_of(o).get('readyReplicas') or 0}/"
                                             f"{w.spec_of(o).get('replicas') or 0}",
                description="Number of the pod with ready state"),
    AGE_COLUMN,
    TableColumn("Containers", "string", lambda o: w.containers_cells(w.spec_of(o).get("template"))[0],
                priority=1, description="Names of each container in the template."),
    TableColumn("Images", "string", lambda o: w.containers_cells(w.spec_of(o).get("template"))[1],
                priority=1, description="Images referenced by each container in the template."),
)

statefulset_spec = ResourceSpec(
    group="apps", version="v1", kind="StatefulSet", plural="statefulsets", singular="statefulset",
    namespaced=True,
    **TYPES.spec_fields("StatefulSet"),
    short_names=("sts",), categories=("all",),
    subresources=("status",),  # + scale once the scale subresource merges
    scale=ScaleSpec(),  # .spec.replicas, .status.replicas, .spec.selector
    strategy=StatefulSetStrategy(default, validate_spec, {"replicas": 0, "availableReplicas": 0}),
    subresource_strategies={"status": ReplicasStatusStrategy(validate_status)},
    table_columns=TABLE_COLUMNS,
    name_validator=validation.name_is_dns_label,  # ValidateStatefulSetName: pods get "<name>-<i>"
    description=DESCRIPTION,
)

