"""Declared variable types: DYN, one of kube's opaque types, or a type built from a structural
OpenAPI v3 schema (kube's SchemaDeclType; see schema.py and protos.py).

A ``DeclType`` carries the cel-cpp type the checker sees, the schema's Decl tree (cost sizes),
the conversion its JSON values need, and a stable ``key`` so environments are cached per
declaration."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cel_expr_python import cel

from .convert import converter
from .protos import MessageBuilder
from .schema import Builder, Decl, Resolver

Schema = Mapping[str, Any]


@dataclass(frozen=True, eq=False)
class DeclType:
    """A variable's declared type."""

    cel_type: Any
    key: str
    schema: Schema | None = None
    decl: Decl | None = field(default=None, repr=False)
    # the .proto file with this type's messages (checking only), None when it has none
    file: Any = field(default=None, repr=False)
    # JSON value → the value CEL evaluates (escaped property names, ...); None: as stored
    convert: Callable[[Any], Any] | None = field(default=None, repr=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeclType) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


DYN = DeclType(cel.Type.DYN, "dyn")
_cache: dict[tuple[str, int], DeclType] = {}


def message_type(name: str) -> DeclType:
    """One of kube's opaque types (see opaque.py), e.g. the ``authorizer`` variable's."""
    return DeclType(cel.Type(name), "message:" + name)


def schema_type(schema: Schema, resolve: Resolver | None = None, resource_root: bool = False) -> DeclType:
    """The declared type of values with this schema; ``$ref``s are looked up with ``resolve``.
    ``resource_root``: the schema is a whole resource (kube adds kind, apiVersion, metadata)."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"), default=str)
    cache_key = (f"{resource_root}:{text}", id(resolve) if resolve is not None else 0)
    cached = _cache.get(cache_key)
    if cached is not None:
        return cached
    decl = Builder(resolve).build(schema, resource_root)
    builder = MessageBuilder()
    cel_type = builder.cel_type(decl)
    declared = DeclType(cel_type, f"schema:{builder.package}", schema, decl,
                        builder.file if builder.file.message_type else None, converter(decl))
    if len(_cache) < 4096:
        _cache[cache_key] = declared
    return declared
