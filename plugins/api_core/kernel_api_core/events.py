"""events (core/v1 Event): selectable fields and kubectl's columns (printEvent)."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.validation import FieldError
from kernel.endpoints.table import NAME_COLUMN, age
from kernel.registry.resource import Object, ResourceSpec, TableColumn
from kernel_api_core._generic import SpecStatusStrategy
from kernel_api_core.types import CORE_V1

KIND = "Event"
DESCRIPTION = ("Event is a report of an event somewhere in the cluster.  Events have a limited retention "
               "time and triggers and messages may evolve with time.")

SELECTABLE_FIELDS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                     "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type")


def selectable_fields(event: Object) -> dict[str, str]:
    """ToSelectableFields of pkg/registry/core/event."""
    involved = event.get("involvedObject") or {}
    source = (event.get("source") or {}).get("component") or event.get("reportingComponent") or ""
    fields = {f"involvedObject.{k}": str(involved.get(k) or "")
              for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    fields.update({"reason": event.get("reason") or "",
                   "reportingComponent": event.get("reportingComponent") or "",
                   "source": source, "type": event.get("type") or ""})
    return fields


def validate_event(event: Object) -> list[Any]:
    """The part of ValidateEventCreate a v1 client meets: an involved object in the event's namespace."""
    errs = []
    involved = event.get("involvedObject") or {}
    namespace = (event.get("metadata") or {}).get("namespace") or ""
    if involved.get("namespace") and involved["namespace"] != namespace:
        errs.append(FieldError.invalid("involvedObject.namespace", involved["namespace"],
                                       "does not match event.namespace"))
    return errs


def _since(timestamp: Any) -> str:
    return age(timestamp) if timestamp else "<unknown>"


def event_cells(event: Object) -> dict[str, Any]:
    first = _since(event.get("firstTimestamp")) if event.get("firstTimestamp") else _since(event.get("eventTime"))
    last = _since(event.get("lastTimestamp")) if event.get("lastTimestamp") else first
    count = event.get("count") or 0
    series = event.get("series")
    if series:
        last, count = _since(series.get("lastObservedTime")), series.get("count") or 0
    elif not count:
        count = 1
    involved = event.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return {"last": last, "first": first, "count": count, "target": target,
            "source": f"{component}, {host}" if host else component}


TABLE_COLUMNS = (
    TableColumn("Last Seen", "string", lambda o: event_cells(o)["last"],
                description="The time at which the most recent occurrence of this event was recorded."),
    TableColumn("Type", "string", lambda o: o.get("type") or "",
                description="Type of this event (Normal, Warning), new types could be added in the future"),
    TableColumn("Reason", "string", lambda o: o.get("reason") or "",
                description="This should be a short, machine understandable string that gives the reason for "
                            "the transition into the object's current status."),
    TableColumn("Object", "string", lambda o: event_cells(o)["target"],
                description="The object that this event is about."),
    TableColumn("Subobject", "string", lambda o: (o.get("involvedObject") or {}).get("fieldPath") or "",
                priority=1, description="If referring to a piece of an object instead of an entire object, "
                                        "this string should contain a valid JSON/Go field access statement."),
    TableColumn("Source", "string", lambda o: event_cells(o)["source"], priority=1,
                description="The component reporting this event. Should be a short machine understandable "
                            "string."),
    TableColumn("Message", "string", lambda o: (o.get("message") or "").strip(),
                description="A human-readable description of the status of this operation."),
    TableColumn("First Seen", "string", lambda o: event_cells(o)["first"], priority=1,
                description="The time at which the event was first recorded. (Time of server receipt is in "
                            "TypeMeta.)"),
    TableColumn("Count", "string", lambda o: event_cells(o)["count"], priority=1,
                description="The number of times this event has occurred."),
    TableColumn(NAME_COLUMN.name, "string", NAME_COLUMN.cell, format="name", priority=1,
                description=NAME_COLUMN.description),
)

event_spec = ResourceSpec(
    group="", version="v1", kind=KIND, plural="events", singular="event", namespaced=True,
    **CORE_V1.spec_fields(KIND),
    short_names=("ev",),
    strategy=SpecStatusStrategy(validator=validate_event, has_status=False, selectors=selectable_fields),
    table_columns=TABLE_COLUMNS,
    selectable_fields=SELECTABLE_FIELDS,
    description=DESCRIPTION,
)
