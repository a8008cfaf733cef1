"""Declared variable types: DYN, or a type built from a structural OpenAPI v3 schema
(k8s.io/apiserver/pkg/cel/common's SchemaDeclType, simplified).

A ``DeclType`` carries the cel-cpp type the checker sees, the schema (for field checks and
cost sizes) and a stable ``key`` so environments can be cached per declaration.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cel_expr_python import cel

Schema = Mapping[str, Any]
Resolver = Callable[[str], Schema | None]


@dataclass(frozen=True, eq=False)
class DeclType:
    """A variable's declared type."""

    cel_type: Any
    key: str
    schema: Schema | None = None
    resolve: Resolver | None = field(default=None, repr=False)
    # JSON value → the value CEL evaluates (escaped property names, ...); None: as stored
    convert: Callable[[Any], Any] | None = field(default=None, repr=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeclType) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


DYN = DeclType(cel.Type.DYN, "dyn")


def message_type(name: str) -> DeclType:
    """One of kube's opaque types (see opaque.py), e.g. the ``authorizer`` variable's."""
    return DeclType(cel.Type(name), "message:" + name)


def schema_type(schema: Schema, resolve: Resolver | None = None) -> DeclType:
    """The declared type of a value with this schema; ``$ref``s are looked up with ``resolve``."""
    key = json.dumps(schema, sort_keys=True, separators=(",", ":"), default=str)
    return DeclType(_cel_type(schema, resolve, 0), "schema:" + key, schema, resolve)


def resolved(schema: Schema, resolve: Resolver | None) -> Schema:
    """``schema`` with a ``$ref`` (or an ``allOf`` of one ``$ref``, as OpenAPI v3 emits) followed."""
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


def is_dyn(schema: Schema) -> bool:
    """Schemas whose values CEL sees as dyn (kube: int-or-string, unknown fields, no type)."""
    if schema.get("x-kubernetes-int-or-string"):
        return True
    if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
        return True
    return not schema.get("type") and not schema.get("properties") and not schema.get("items")


def _cel_type(schema: Schema, resolve: Resolver | None, depth: int) -> Any:
    schema = resolved(schema, resolve)
    if depth > 32 or is_dyn(schema):
        return cel.Type.DYN
    kind = schema.get("type") or ("object" if schema.get("properties") else "array")
    if kind == "boolean":
        return cel.Type.BOOL
    if kind == "integer":
        return cel.Type.INT
    if kind == "number":
        return cel.Type.DYN  # ints stored for numbers are converted to doubles (milestone 3)
    if kind == "string":
        return cel.Type.STRING if not schema.get("format") else cel.Type.DYN
    if kind == "array":
        items = schema.get("items")
        element = _cel_type(items, resolve, depth + 1) if isinstance(items, Mapping) else cel.Type.DYN
        return cel.Type.List(element)
    additional = schema.get("additionalProperties")
    if isinstance(additional, Mapping) and not schema.get("properties"):
        return cel.Type.Map(cel.Type.STRING, _cel_type(additional, resolve, depth + 1))
    return cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
