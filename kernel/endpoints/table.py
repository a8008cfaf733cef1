"""Server-side printing: meta.k8s.io/v1 Table and PartialObjectMetadata(List).

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the server's columns
verbatim, so the cells, the Age format and the column definitions must be kube's: Age is
k8s.io/apimachinery/pkg/util/duration.HumanDuration of the time since creation, and a resource
without its own columns gets the apiserver's default convertor's "Name" and "Created At".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from kernel.registry.resource import Object, TableColumn
from kernel.apimachinery.schemas import object_meta_description
from kernel.apimachinery.status import bad_request

META_V1 = "meta.k8s.io/v1"
INCLUDE_OBJECT_VALUES = ("Metadata", "Object", "None", "")

_NS_PER_SECOND = 1_000_000_000


def human_duration(seconds: float) -> str:
    """duration.HumanDuration: ~2-3 significant figures, e.g. 59s, 119s, 2m5s, 10m, 3h, 2d4h, 3y20d."""
    ns = round(seconds * _NS_PER_SECOND)  # Go works on integer nanoseconds; so do we
    whole_seconds = math.trunc(ns / _NS_PER_SECOND)
    # Up to 2 seconds in the future is clock skew: "now".
    if whole_seconds < -1:
        return "<invalid>"
    if whole_seconds < 0:
        return "0s"
    if whole_seconds < 60 * 2:
        return f"{whole_seconds}s"
    minutes = ns // (60 * _NS_PER_SECOND)
    if minutes < 10:
        s = (ns // _NS_PER_SECOND) % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = ns // (3600 * _NS_PER_SECOND)
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def parse_time(timestamp: str | None) -> datetime | None:
    """An RFC 3339 metav1.Time, or None when unset or unparsable (Go's zero time)."""
    if not timestamp:
        return None
    try:
        parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """The Age cell: printers' translateTimestampSince ("<unknown>" for a zero timestamp)."""
    created = parse_time(timestamp)
    if created is None:
        return "<unknown>"
    now = now or datetime.now(timezone.utc)
    return human_duration((now - created).total_seconds())


def created_at(timestamp: str | None) -> str:
    """The default convertor's "Created At" cell: the time in UTC, RFC 3339, whole seconds."""
    created = parse_time(timestamp)
    if created is None:
        return "0001-01-01T00:00:00Z"
    return created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj: Object) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


NAME_COLUMN = TableColumn("Name", "string", lambda o: _meta(o).get("name", ""), format="name",
                          description=object_meta_description("name"))
AGE_COLUMN = TableColumn("Age", "string", lambda o: age(_meta(o).get("creationTimestamp")),
                         description=object_meta_description("creationTimestamp"))
CREATED_AT_COLUMN = TableColumn("Created At", "date", lambda o: created_at(_meta(o).get("creationTimestamp")),
                                description=object_meta_description("creationTimestamp"))
#: rest.defaultTableConvertor's columns, for resources that define none.
DEFAULT_COLUMNS: tuple[TableColumn, ...] = (NAME_COLUMN, CREATED_AT_COLUMN)
#: The columns of an autoscaling/v1 Scale (``kubectl get deploy/x --subresource=scale``).
SCALE_COLUMNS: tuple[TableColumn, ...] = (
    TableColumn("Name", "string", lambda o: _meta(o).get("name", ""),
                description=object_meta_description("name")),
    TableColumn("Desired", "integer", lambda o: (o.get("spec") or {}).get("replicas") or 0,
                description="replicas is the desired number of instances for the scaled object."),
    TableColumn("Available", "integer", lambda o: (o.get("status") or {}).get("replicas") or 0,
                description="replicas is the actual number of observed instances of the scaled "
                            "object."),
    AGE_COLUMN,
)


def column_definitions(columns: Sequence[TableColumn]) -> list[dict[str, Any]]:
    return [{"name": c.name, "type": c.type, "format": c.format, "description": c.description,
             "priority": c.priority} for c in columns]


def validate_include_object(value: str) -> None:
    """Reject an ``includeObject`` parameter as kube does (400 before any conversion)."""
    if value not in INCLUDE_OBJECT_VALUES:
        raise bad_request("Unable to convert to Table as requested: includeObject: Invalid value: "
                          f"\"{value}\": must be 'Metadata', 'Object', 'None', or empty")


def _list_meta(list_meta: Mapping[str, Any] | None) -> dict[str, Any]:
    meta = list_meta or {}
    out: dict[str, Any] = {}
    for key in ("resourceVersion", "continue"):
        if meta.get(key):
            out[key] = meta[key]
    if meta.get("remainingItemCount") is not None:
        out["remainingItemCount"] = meta["remainingItemCount"]
    return out


def partial_object_metadata(obj: Object, api_version: str = META_V1) -> dict[str, Any]:
    """meta.AsPartialObjectMetadata: the object's whole ObjectMeta under kind PartialObjectMetadata."""
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": dict(_meta(obj))}


def partial_object_metadata_list(objs: Iterable[Object], list_meta: Mapping[str, Any] | None = None,
                                 api_version: str = META_V1) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadataList", "apiVersion": api_version,
            "metadata": _list_meta(list_meta),
            "items": [partial_object_metadata(o, api_version) for o in objs]}


def build_table(spec_columns: Sequence[TableColumn], objects: Iterable[Object], *,
                include_object: str = "Metadata", no_headers: bool = False,
                list_meta: Mapping[str, Any] | None = None, api_version: str = META_V1) -> dict[str, Any]:
    """A Table of ``objects`` with the resource's columns (DEFAULT_COLUMNS when it has none).

    ``list_meta`` is the list's metadata (or, for one object, ``{"resourceVersion": its RV}``).
    Each row's ``object`` is a PartialObjectMetadata (Metadata, the default), the object itself
    (Object) or null (None): Go's TableRow serialises an empty RawExtension as ``null``.
    With ``no_headers`` the column definitions are null, as kube's table generator leaves them.
    """
    validate_include_object(include_object)
    columns = list(spec_columns) or list(DEFAULT_COLUMNS)
    rows = []
    for obj in objects:
        if include_object == "Object":
            row_object: Any = obj
        elif include_object == "None":
            row_object = None
        else:
            row_object = partial_object_metadata(obj, api_version)
        rows.append({"cells": [column.cell(obj) for column in columns], "object": row_object})
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": _list_meta(list_meta),
        "columnDefinitions": None if no_headers else column_definitions(columns),
        "rows": rows,
    }
