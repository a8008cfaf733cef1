"""podtemplates and replicationcontrollers: pod template defaults, RC defaults (replicas 1, selector
and labels from the template), status.replicas selectable, the kubectl columns."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.validation import FieldError
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, TableColumn
from kernel.registry.subresources import ScaleSpec
from kernel_api_core import _core
from kernel_api_core._generic import SpecStatusStrategy
from kernel_api_core.pods import default_pod_spec, validate_pod_spec
from kernel_api_core.types import CORE_V1

PT_DESCRIPTION = "PodTemplate describes a template for creating copies of a predefined pod."
RC_DESCRIPTION = "ReplicationController represents the configuration of a replication controller."
CONTAINERS_DESCRIPTION = "Names of each container in the template."
IMAGES_DESCRIPTION = "Images referenced by each container in the template."


def _template_spec(template: Any) -> Object:
    spec = (template or {}).get("spec") if isinstance(template, dict) else None
    return spec if isinstance(spec, dict) else {}


def container_cells(template: Any) -> tuple[str, str]:
    """layoutContainerCells: container names and images, comma-separated."""
    containers = _template_spec(template).get("containers") or []
    return (",".join(c.get("name") or "" for c in containers),
            ",".join(c.get("image") or "" for c in containers))


def default_podtemplate(pt: Object) -> None:
    if isinstance(pt.get("template"), dict) and isinstance(pt["template"].get("spec"), dict):
        default_pod_spec(pt["template"]["spec"])


def validate_podtemplate(pt: Object) -> list[Any]:
    return validate_pod_spec((pt.get("template") or {}).get("spec"), "template.spec")


def default_rc(rc: Object) -> None:
    """SetDefaults_ReplicationController."""
    spec = rc.setdefault("spec", {})
    template = spec.get("template")
    labels = ((template or {}).get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        metadata = rc.setdefault("metadata", {})
        if not metadata.get("labels"):
            metadata["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"])


def validate_rc(rc: Object) -> list[Any]:
    """ValidateReplicationControllerSpec: a selector, a template whose labels it selects."""
    spec = rc.get("spec") or {}
    errs: list[FieldError] = []
    selector = spec.get("selector") or {}
    if not selector:
        errs.append(FieldError.required("spec.selector", ""))
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        errs.append(FieldError.invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    template = spec.get("template")
    if template is None:
        errs.append(FieldError.required("spec.template", ""))
        return errs
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        errs.append(FieldError.invalid("spec.template.metadata.labels", labels,
                                       "`selector` does not match template `labels`"))
    return errs + validate_pod_spec(template.get("spec"), "spec.template.spec")


def selectable_fields(rc: Object) -> dict[str, str]:
    return {"status.replicas": str((rc.get("status") or {}).get("replicas") or 0)}


PT_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Containers", "string", lambda o: container_cells(o.get("template"))[0],
                description=CONTAINERS_DESCRIPTION),
    TableColumn("Images", "string", lambda o: container_cells(o.get("template"))[1],
                description=IMAGES_DESCRIPTION),
    TableColumn("Pod Labels", "string",
                lambda o: _core.format_labels(((o.get("template") or {}).get("metadata") or {}).get("labels")),
                description="The labels for the pod template."),
)


def _rc_spec(o: Object) -> Object:
    return o.get("spec") or {}


RC_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Desired", "integer", lambda o: _rc_spec(o).get("replicas") or 0,
                description="Replicas is the number of desired replicas."),
    TableColumn("Current", "integer", lambda o: (o.get("status") or {}).get("replicas") or 0,
                description="Replicas is the most recently observed number of replicas."),
    TableColumn("Ready", "integer", lambda o: (o.get("status") or {}).get("readyReplicas") or 0,
                description="The number of ready replicas for this replication controller."),
    AGE_COLUMN,
    TableColumn("Containers", "string", lambda o: container_cells(_rc_spec(o).get("template"))[0], priority=1,
                description=CONTAINERS_DESCRIPTION),
    TableColumn("Images", "string", lambda o: container_cells(_rc_spec(o).get("template"))[1], priority=1,
                description=IMAGES_DESCRIPTION),
    TableColumn("Selector", "string", lambda o: _core.format_labels(_rc_spec(o).get("selector")), priority=1,
                description="Selector is a label query over pods that should match the Replicas count."),
)

_RC = SpecStatusStrategy(defaults=default_rc, validator=validate_rc, initial_status={},
                         selectors=selectable_fields, track_generation=True)

podtemplate_spec = ResourceSpec(
    group="", version="v1", kind="PodTemplate", plural="podtemplates", singular="podtemplate", namespaced=True,
    **CORE_V1.spec_fields("PodTemplate"),
    strategy=SpecStatusStrategy(defaults=default_podtemplate, validator=validate_podtemplate, has_status=False),
    table_columns=PT_COLUMNS, description=PT_DESCRIPTION,
)

replicationcontroller_spec = ResourceSpec(
    group="", version="v1", kind="ReplicationController", plural="replicationcontrollers",
    singular="replicationcontroller", namespaced=True,
    **CORE_V1.spec_fields("ReplicationController"),
    short_names=("rc",), categories=("all",), subresources=("status",), strategy=_RC,
    scale=ScaleSpec(),  # the selector is a label map here: the Scale's is its string form
    subresource_strategies={"status": _RC.status_strategy()},
    table_columns=RC_COLUMNS, selectable_fields=("status.replicas",), description=RC_DESCRIPTION,
)
