"""Structural OpenAPI schemas as CEL declarations (k8s.io/apiserver/pkg/cel/common SchemaDeclType).

A ``Decl`` tree mirrors kube's DeclType: the kind, kube's estimated maximum size (what the cost
estimator reads), object fields under their escaped names. Where this differs from kube, on
purpose: schemas kube leaves untyped (no ``type``, or an object with
``x-kubernetes-preserve-unknown-fields`` and no properties) are ``dyn`` here instead of
inaccessible; ``x-kubernetes-int-or-string`` is dyn as in kube.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .escaping import escape

Schema = Mapping[str, Any]
Resolver = Callable[[str], Schema | None]

MAX_REQUEST_SIZE = 3 * 1024 * 1024  # celconfig.MaxRequestSizeBytes
MIN_STRING, MIN_BOOL, MIN_NUMBER = 2, 4, 1
MIN_DURATION_JSON, MAX_DURATION_JSON = 3, 32
JSON_DATE, MIN_DATETIME_JSON, MAX_DATETIME_JSON = 12, 21, 32


@dataclass(eq=False)
class Decl:
    kind: str  # object, map, list, string, bytes, duration, timestamp, bool, int, double, dyn
    max_elements: int = 0
    min_size: int = 1
    fields: dict[str, "Decl"] = field(default_factory=dict)  # by escaped name
    names: dict[str, str] = field(default_factory=dict)  # escaped name -> property name
    elem: "Decl | None" = None  # list items, map values
    key: "Decl | None" = None  # map keys


def resolved(schema: Schema, resolve: Resolver | None) -> Schema:
    """``schema`` with a ``$ref`` (or an ``allOf`` of one ``$ref``, as OpenAPI v3 emits) followed;
    sibling keywords (e.g. ``default``) are kept when they add to the target."""
    for _ in range(64):
        ref = schema.get("$ref")
        if ref is None and len(schema.get("allOf") or ()) == 1:
            ref = schema["allOf"][0].get("$ref")
        if ref is None or resolve is None:
            return schema
        target = resolve(ref)
        if target is None:
            return schema
        schema = target
    return schema


def _string_max(schema: Schema) -> int:
    if schema.get("maxLength") is not None:
        return max(int(schema["maxLength"]), 0) * 4  # bytes: up to 4 per character
    enum = [v for v in schema.get("enum") or () if isinstance(v, str)]
    if enum:
        return max(len(v) for v in enum)
    return MAX_REQUEST_SIZE - 2


def _string_decl(schema: Schema) -> Decl:
    fmt = schema.get("format")
    if fmt == "byte":
        limit = schema.get("maxLength")
        return Decl("bytes", max(int(limit), 0) if limit is not None else MAX_REQUEST_SIZE - 2, MIN_STRING)
    if fmt == "duration":
        return Decl("duration", MAX_DURATION_JSON, MIN_DURATION_JSON)
    if fmt == "date":
        return Decl("timestamp", JSON_DATE, JSON_DATE)
    if fmt == "date-time":
        return Decl("timestamp", MAX_DATETIME_JSON, MIN_DATETIME_JSON)
    return Decl("string", _string_max(schema), MIN_STRING)


def _with_object_meta(schema: Schema, resolve: Resolver | None) -> Schema:
    """kube's WithTypeAndObjectMeta: a resource root always has kind, apiVersion, metadata (a
    schema that has them, with metadata's name and generateName, is kept as it is)."""
    props = dict(schema.get("properties") or {})
    meta = resolved(props.get("metadata") or {}, resolve)
    meta_props = meta.get("properties") or {}
    if all(resolved(props.get(k) or {}, resolve).get("type") == "string" for k in ("kind", "apiVersion")) \
            and meta.get("type") == "object" and "name" in meta_props and "generateName" in meta_props:
        return schema
    props["kind"] = {"type": "string"}
    props["apiVersion"] = {"type": "string"}
    props["metadata"] = {"type": "object", "properties": {"name": {"type": "string"},
                                                         "generateName": {"type": "string"}}}
    return {**schema, "type": "object", "properties": props}


class Builder:
    """Builds Decls, following ``$ref``s once each (recursive schemas share their Decl)."""

    def __init__(self, resolve: Resolver | None) -> None:
        self.resolve = resolve
        self.by_ref: dict[str, Decl] = {}

    def build(self, schema: Schema, resource_root: bool = False) -> Decl:
        ref = schema.get("$ref") or (len(schema.get("allOf") or ()) == 1 and schema["allOf"][0].get("$ref"))
        if ref and ref in self.by_ref and not resource_root:
            return self.by_ref[ref]
        target = resolved(schema, self.resolve)
        if ref and not resource_root:
            decl = Decl("dyn")
            self.by_ref[ref] = decl
            built = self._build(target, False)
            decl.__dict__.update(built.__dict__)  # the placeholder becomes the type (recursion)
            return decl
        return self._build(target, resource_root)

    def _build(self, schema: Schema, resource_root: bool) -> Decl:
        if schema.get("x-kubernetes-int-or-string"):
            limit = schema.get("maxLength")
            return Decl("dyn", max(int(limit), 0) * 4 if limit is not None else MAX_REQUEST_SIZE - 2, 1)
        kind = schema.get("type")
        if resource_root or (schema.get("x-kubernetes-embedded-resource") and schema.get("properties")):
            return self._object(_with_object_meta(schema, self.resolve))
        if kind == "array":
            items = schema.get("items")
            elem = self.build(items, bool(items.get("x-kubernetes-embedded-resource"))) if isinstance(items, Mapping) else Decl("dyn")
            limit = schema.get("maxItems")
            count = max(int(limit), 0) if limit is not None else (MAX_REQUEST_SIZE - 2) // (elem.min_size + 1)
            return Decl("list", count, 2, elem=elem)
        if kind == "object" or (kind is None and schema.get("properties")):
            return self._object_or_map(schema)
        if kind == "string":
            return _string_decl(schema)
        simple = {"boolean": ("bool", MIN_BOOL), "number": ("double", MIN_NUMBER), "integer": ("int", MIN_NUMBER)}
        if kind in simple:
            return Decl(simple[kind][0], 0, simple[kind][1])
        return Decl("dyn", MAX_REQUEST_SIZE - 2, 1)

    def _object_or_map(self, schema: Schema) -> Decl:
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping) and not schema.get("properties"):
            elem = self.build(additional, bool(additional.get("x-kubernetes-embedded-resource")))
            limit = schema.get("maxProperties")
            count = max(int(limit), 0) if limit is not None else (MAX_REQUEST_SIZE - 2) // (elem.min_size + 6)
            return Decl("map", count, 2, elem=elem, key=Decl("string", 0, MIN_STRING))
        if not schema.get("properties") and (
                schema.get("x-kubernetes-preserve-unknown-fields") or additional is True):
            return Decl("dyn", MAX_REQUEST_SIZE - 2, 1)
        return self._object(schema)

    def _object(self, schema: Schema) -> Decl:
        decl = Decl("object", 0, 2)
        required = set(schema.get("required") or ())
        for name, prop in (schema.get("properties") or {}).items():
            if not isinstance(prop, Mapping):
                continue
            child = self.build(prop, bool(prop.get("x-kubernetes-embedded-resource")))
            escaped = escape(name)
            if escaped is not None:
                decl.fields[escaped] = child
                if escaped != name:
                    decl.names[escaped] = name
            if name in required and prop.get("default") is None:
                decl.min_size += len(name) + child.min_size + 4
        return decl
