"""leases (coordination.k8s.io/v1 Lease): validation and printer columns as kube-apiserver has them."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.validation import FieldError
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn

from kernel_api_coordination.types import TYPES

GROUP, VERSION, KIND = "coordination.k8s.io", "v1", "Lease"
SCHEMA_NAME = "io.k8s.api.coordination.v1.Lease"
DESCRIPTION = "Lease defines a lease concept."
STRATEGIES = ("OldestEmulationVersion",)


class LeaseStrategy(Strategy):
    """pkg/registry/coordination/lease: PUT never creates; spec checked as ValidateLeaseSpec."""

    allow_create_on_update = False
    allow_unconditional_update = True

    def validate(self, obj: Object) -> list[Any]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and duration <= 0:
            errs.append(FieldError.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if transitions is not None and transitions < 0:
            errs.append(FieldError.invalid("spec.leaseTransitions", transitions,
                                           "must be greater than or equal to 0"))
        strategy = spec.get("strategy")
        if strategy is not None and strategy not in STRATEGIES:
            errs.append(FieldError.not_supported("spec.strategy", strategy, STRATEGIES))
        if spec.get("preferredHolder") and not strategy:
            errs.append(FieldError.forbidden("spec.preferredHolder",
                                             "may only be specified if `strategy` is defined"))
        return errs


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Holder", "string", lambda o: (o.get("spec") or {}).get("holderIdentity") or "",
                description="holderIdentity contains the identity of the holder of a current lease."),
    AGE_COLUMN,
)

lease_spec = ResourceSpec(
    group=GROUP,
    version=VERSION,
    kind=KIND,
    plural="leases",
    singular="lease",
    namespaced=True,
    **TYPES.spec_fields(KIND),
    strategy=LeaseStrategy(),
    table_columns=TABLE_COLUMNS,
    description=DESCRIPTION,
)
