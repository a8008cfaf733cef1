"""replicasets (apps/v1 ReplicaSet): defaulting, validation, /status, printer columns."""

from __future__ import annotations


from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.subresources import ScaleSpec
from kernel.registry.resource import Object, ResourceSpec, TableColumn
from kernel.apimachinery.validation import FieldError

from kernel_api_apps import podtemplate, workload as w
from kernel_api_apps.deployments import _restart_always
from kernel_api_apps.status import ReplicasStatusStrategy, replica_count_errors
from kernel_api_apps.types import TYPES

SCHEMA_NAME = "io.k8s.api.apps.v1.ReplicaSet"
DESCRIPTION = "ReplicaSet ensures that a specified number of pod replicas are running at any given time."


def default(obj: Object) -> None:
    """SetDefaults_ReplicaSet, and the template's pod defaults."""
    spec = w.section(obj, "spec")
    spec.setdefault("replicas", 1)
    podtemplate.default_template(spec.get("template"))


def validate_spec(spec: Object) -> list[FieldError]:
    """ValidateReplicaSetSpec (whose empty-selector message says "deployment", as kube's does)."""
    errs = w.nonnegative(spec.get("replicas"), "spec.replicas")
    errs += w.nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += w.validate_selector_and_template(spec, "spec", "deployment")
    errs += podtemplate.validate_template(spec.get("template"), "spec.template")
    return errs + _restart_always(spec.get("template"), "spec.template.spec", "ReplicaSet")


def validate_status(status: Object) -> list[FieldError]:
    """ValidateReplicaSetStatus."""
    return replica_count_errors(
        status, ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration",
                 "terminatingReplicas"),
        ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"))


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Desired", "integer", lambda o: w.spec_of(o).get("replicas") or 0,
                description="Replicas is the number of desired pods. This is a pointer to distinguish "
                            "between explicit zero and unspecified. Defaults to 1. More info: "
                            "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"
                            "/#what-is-a-replicaset"),
    TableColumn("Current", "integer", lambda o: w.status_of(o).get("replicas") or 0,
                description="Replicas is the most recently observed number of non-terminating pods. More "
                            "info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"
                            "/#what-is-a-replicaset"),
    TableColumn("Ready", "integer", lambda o: w.status_of(o).get("readyReplicas") or 0,
                description="The number of non-terminating pods targeted by this ReplicaSet with a Ready "
                            "Condition."),
    AGE_COLUMN,
    TableColumn("Containers", "string", lambda o: w.containers_cells(w.spec_of(o).get("template"))[0],
                priority=1, description="Names of each container in the template."),
    TableColumn("Images", "string", lambda o: w.containers_cells(w.spec_of(o).get("template"))[1],
                priority=1, description="Images referenced by each container in the template."),
    TableColumn("Selector", "string", lambda o: w.format_label_selector(w.spec_of(o).get("selector")),
                priority=1,
                description="Selector is a label query over pods that should match the replica count. "
                            "Label keys and values that must match in order to be controlled by this "
                            "replica set. It must match the pod template's labels. More info: "
                            "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels"
                            "/#label-selectors"),
)

replicaset_spec = ResourceSpec(
    group="apps", version="v1", kind="ReplicaSet", plural="replicasets", singular="replicaset",
    namespaced=True,
    **TYPES.spec_fields("ReplicaSet"),
    short_names=("rs",), categories=("all",),
    subresources=("status",),  # + scale once the scale subresource merges
    scale=ScaleSpec(),  # .spec.replicas, .status.replicas, .spec.selector
    strategy=w.WorkloadStrategy(default, validate_spec, {"replicas": 0}),
    subresource_strategies={"status": ReplicasStatusStrategy(validate_status)},
    table_columns=TABLE_COLUMNS, description=DESCRIPTION,
)

