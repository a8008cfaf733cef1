"""events (events.k8s.io/v1 Event): stored as core v1 Events (a StorageConversion on the spec),
validated as kube validates an events.k8s.io/v1 request (pkg/apis/core/validation/events.go: on
the core form, so error paths name core fields), printed with the core Event columns."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.validation import (FIELD_IMMUTABLE, FieldError, GoLiteral, is_dns1123_subdomain,
                                            is_qualified_name)
from kernel.endpoints.table import age
from kernel.registry.resource import Object, ResourceSpec, StorageConversion, Strategy, TableColumn

from kernel_api_events.conversion import from_core, to_core
from kernel_api_events.types import TYPES

GROUP, VERSION, KIND = "events.k8s.io", "v1", "Event"
SCHEMA_NAME = "io.k8s.api.events.v1.Event"
DESCRIPTION = ("Event is a report of an event somewhere in the cluster. It generally denotes some state "
               "change in the system. Events have a limited retention time and triggers and messages may "
               "evolve with time.")
LIMITS = {"reportingInstance": 128, "action": 128, "reason": 128, "message": 1024}
EVENT_TYPES = ("Normal", "Warning")
#: events.k8s.io field label -> where its value is (AddFieldLabelConversionsForEvent)
SELECTABLE = {
    "reason": ("reason",), "type": ("type",), "reportingController": ("reportingController",),
    **{f"regarding.{k}": ("regarding", k)
       for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
}
IMMUTABLE = ("involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
             "type", "eventTime", "action", "related", "reportingComponent", "reportingInstance")


def _core_path(field: str) -> str:
    # kube validates the internal Event, whose field is ReportingController (JSON reportingController)
    return "reportingController" if field == "reportingComponent" else field


def validate_core(core: Object) -> list[FieldError]:
    """ValidateEventCreate for an events.k8s.io/v1 request (strict), on the core form."""
    errs: list[FieldError] = []
    namespace = (core.get("metadata") or {}).get("namespace") or ""
    involved = core.get("involvedObject") or {}
    series = core.get("series")
    if series is not None:
        if (series.get("count") or 0) < 2:
            errs.append(FieldError.invalid("series.count", "", "should be at least 2"))
        if not series.get("lastObservedTime"):
            errs.append(FieldError.required("series.lastObservedTime"))
    if not core.get("eventTime"):
        errs.append(FieldError.required("eventTime"))
    if core.get("type") not in EVENT_TYPES:
        errs.append(FieldError.invalid("type", "", f"has invalid value: {core.get('type') or ''}"))
    for key in ("firstTimestamp", "lastTimestamp"):
        if core.get(key):
            errs.append(FieldError.invalid(key, "", "needs to be unset"))
    if core.get("count"):
        errs.append(FieldError.invalid("count", "", "needs to be unset"))
    source = core.get("source") or {}
    if source.get("component") or source.get("host"):
        errs.append(FieldError.invalid("source", "", "needs to be unset"))
    return errs + _legacy(core, namespace, involved)


def _legacy(core: Object, namespace: str, involved: Object) -> list[FieldError]:
    """legacyValidateEvent, which every Event passes."""
    errs: list[FieldError] = []
    involved_ns = involved.get("namespace") or ""
    if not core.get("eventTime"):
        if (not involved_ns and namespace not in ("", "default")) or (involved_ns and involved_ns != namespace):
            errs.append(FieldError.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            errs.append(FieldError.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        controller = core.get("reportingComponent") or ""
        if not controller:
            errs.append(FieldError.required("reportingController"))
        errs += [FieldError.invalid("reportingController", controller, m) for m in is_qualified_name(controller)]
        for key in ("reportingInstance", "action", "reason"):
            if not core.get(key):
                errs.append(FieldError.required(key))
        for key, limit in LIMITS.items():
            if len(core.get(key) or "") > limit:
                errs.append(FieldError.invalid(key, "", f"can have at most {limit} characters"))
    errs += [FieldError.invalid("namespace", namespace, m) for m in is_dns1123_subdomain(namespace)]
    return errs


class EventStrategy(Strategy):
    """kube's event strategy: PUT may create, updates need no resourceVersion, no generation."""

    allow_create_on_update = True
    allow_unconditional_update = True

    def validate(self, obj: Object) -> list[Any]:
        return validate_core(to_core(obj))

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        new_core, old_core = to_core(obj), to_core(old)
        errs = _legacy(new_core, (new_core.get("metadata") or {}).get("namespace") or "",
                       new_core.get("involvedObject") or {})
        if new_core.get("series") != old_core.get("series") and new_core.get("series") is not None:
            errs += [e for e in validate_core(new_core) if e.field.startswith("series.")]
        for key in IMMUTABLE:
            if new_core.get(key) != old_core.get(key):
                value = new_core.get(key)
                shown = value if isinstance(value, (str, int)) else GoLiteral(str(value))
                errs.append(FieldError.invalid(_core_path(key), shown, FIELD_IMMUTABLE))
        return errs

    def field_selectors(self, obj: Object) -> dict[str, str]:
        values = {}
        for label, path in SELECTABLE.items():
            value: Any = obj
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            values[label] = "" if value is None else str(value)
        return values


# --- printer columns: printEvent, on the core form --------------------------------------------

def _first_seen(core: Object) -> str:
    return age(core.get("firstTimestamp")) if core.get("firstTimestamp") else age(core.get("eventTime"))


def _last_seen(core: Object) -> str:
    if core.get("series"):
        return age(core["series"].get("lastObservedTime"))
    return age(core.get("lastTimestamp")) if core.get("lastTimestamp") else _first_seen(core)


def _count(core: Object) -> int:
    if core.get("series"):
        return int(core["series"].get("count") or 0)
    return int(core.get("count") or 0) or 1  # singleton events have no count in the new API


def _object(core: Object) -> str:
    involved = core.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    return f"{kind}/{involved['name']}" if involved.get("name") else kind


def _source(core: Object) -> str:
    source = core.get("source") or {}
    component = source.get("component") or core.get("reportingComponent") or ""
    instance = source.get("host") or core.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


def _core_cell(fn: Any) -> Any:
    return lambda obj: fn(to_core(obj))


TABLE_COLUMNS = (
    TableColumn("Last Seen", "string", _core_cell(_last_seen),
                description="The time at which the most recent occurrence of this event was recorded."),
    TableColumn("Type", "string", lambda o: o.get("type") or "",
                description="Type of this event (Normal, Warning), new types could be added in the future"),
    TableColumn("Reason", "string", lambda o: o.get("reason") or "",
                description="This should be a short, machine understandable string that gives the reason "
                            "for the transition into the object's current status."),
    TableColumn("Object", "string", _core_cell(_object), description="The object that this event is about."),
    TableColumn("Subobject", "string", lambda o: (o.get("regarding") or {}).get("fieldPath") or "", priority=1,
                description="If referring to a piece of an object instead of an entire object, this string "
                            "should contain a valid JSON/Go field access statement, such as "
                            "desiredState.manifest.containers[2]."),
    TableColumn("Source", "string", _core_cell(_source), priority=1,
                description="The component reporting this event. Should be a short machine understandable "
                            "string."),
    TableColumn("Message", "string", lambda o: (o.get("note") or "").strip(),
                description="A human-readable description of the status of this operation."),
    TableColumn("First Seen", "string", _core_cell(_first_seen), priority=1,
                description="The time at which the event was first recorded. (Time of server receipt is in "
                            "TypeMeta.)"),
    TableColumn("Count", "string", _core_cell(_count), priority=1,
                description="The number of times this event has occurred."),
    TableColumn("Name", "string", lambda o: (o.get("metadata") or {}).get("name", ""), format="name", priority=1,
                description="Name must be unique within a namespace."),
)

event_spec = ResourceSpec(
    group=GROUP,
    version=VERSION,
    kind=KIND,
    plural="events",
    singular="event",
    namespaced=True,
    **TYPES.spec_fields(KIND),
    short_names=("ev",),
    strategy=EventStrategy(),
    table_columns=TABLE_COLUMNS,
    selectable_fields=tuple(SELECTABLE),
    description=DESCRIPTION,
    conversion=StorageConversion(group="", plural="events", to_storage=to_core, from_storage=from_core),
)
