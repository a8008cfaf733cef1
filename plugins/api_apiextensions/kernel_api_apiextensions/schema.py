"""A CRD version's structural schema, compiled once: pruning, defaulting and validation of custom
resources as apiextensions-apiserver does them (pkg/apiserver/schema/{pruning,defaulting} and
kube-openapi's validate, whose messages and field paths it reports).

:func:`compile_schema` turns an ``openAPIV3Schema`` into a tree of :class:`Node` (regular
expressions compiled, defaults kept) when the CRD changes; every request then walks the tree.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import msgspec

Schema = Mapping[str, Any]
_NO_DEFAULT = object()
#: Fields every object (the root and each embedded resource) has whatever its schema says.
OBJECT_FIELDS = ("apiVersion", "kind", "metadata")


class Node(msgspec.Struct):
    """One schema node, ready for walking."""

    type: str = ""
    properties: dict[str, Node] = msgspec.field(default_factory=dict)
    items: Node | None = None
    additional: Node | bool | None = None
    required: tuple[str, ...] = ()
    enum: tuple[Any, ...] | None = None
    pattern: re.Pattern[str] | None = None
    pattern_text: str = ""
    format: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    min_properties: int | None = None
    max_properties: int | None = None
    nullable: bool = False
    int_or_string: bool = False
    preserve_unknown: bool = False
    embedded: bool = False
    list_type: str = ""
    map_keys: tuple[str, ...] = ()
    default: Any = _NO_DEFAULT


def compile_schema(schema: Schema | None) -> Node:
    """The tree of ``schema`` (a CRD version's ``openAPIV3Schema``; None: keep everything)."""
    if not schema:
        return Node(type="object", preserve_unknown=True)
    return _compile(schema)


def _compile(schema: Schema) -> Node:
    node = Node(type=schema.get("type") or "",
                properties={k: _compile(v) for k, v in (schema.get("properties") or {}).items()},
                required=tuple(schema.get("required") or ()),
                format=schema.get("format") or "",
                nullable=bool(schema.get("nullable")),
                int_or_string=bool(schema.get("x-kubernetes-int-or-string")),
                preserve_unknown=bool(schema.get("x-kubernetes-preserve-unknown-fields")),
                embedded=bool(schema.get("x-kubernetes-embedded-resource")),
                list_type=schema.get("x-kubernetes-list-type") or "",
                map_keys=tuple(schema.get("x-kubernetes-list-map-keys") or ()))
    if isinstance(schema.get("items"), Mapping):
        node.items = _compile(schema["items"])
    extra = schema.get("additionalProperties")
    node.additional = _compile(extra) if isinstance(extra, Mapping) else extra
    if schema.get("enum") is not None:
        node.enum = tuple(schema["enum"])
    if schema.get("pattern"):
        node.pattern_text = schema["pattern"]
        node.pattern = re.compile(schema["pattern"])
    for key, attr in (("minimum", "minimum"), ("maximum", "maximum"), ("minLength", "min_length"),
                      ("maxLength", "max_length"), ("minItems", "min_items"),
                      ("maxItems", "max_items"), ("minProperties", "min_properties"),
                      ("maxProperties", "max_properties")):
        if schema.get(key) is not None:
            setattr(node, attr, schema[key])
    node.exclusive_minimum = bool(schema.get("exclusiveMinimum"))
    node.exclusive_maximum = bool(schema.get("exclusiveMaximum"))
    if "default" in schema:
        node.default = schema["default"]
    return node


# -- pruning -----------------------------------------------------------------------------------

def prune(obj: Any, node: Node, *, root: bool = True) -> None:
    """Drop the fields the schema does not specify, unless x-kubernetes-preserve-unknown-fields
    keeps them (apiVersion, kind and metadata of the object and of embedded resources stay)."""
    if isinstance(obj, dict):
        keep_meta = root or node.embedded
        if node.properties or isinstance(node.additional, Node) or not node.preserve_unknown:
            for key in list(obj):
                child = node.properties.get(key)
                if child is None and isinstance(node.additional, Node):
                    child = node.additional
                if child is not None:
                    prune(obj[key], child, root=False)
                elif not (node.preserve_unknown or node.additional is True
                          or (keep_meta and key in OBJECT_FIELDS)):
                    del obj[key]
    elif isinstance(obj, list) and node.items is not None:
        for item in obj:
            prune(item, node.items, root=False)


# -- defaulting --------------------------------------------------------------------------------

def apply_defaults(obj: Any, node: Node) -> None:
    """Set each absent (or null, when not nullable) property that has a default, then descend."""
    if isinstance(obj, dict):
        for key, child in node.properties.items():
            if child.default is not _NO_DEFAULT and (
                    key not in obj or (obj[key] is None and not child.nullable)):
                obj[key] = copy.deepcopy(child.default)
            if key in obj:
                apply_defaults(obj[key], child)
        if isinstance(node.additional, Node):
            for key, value in obj.items():
                if key not in node.properties:
                    apply_defaults(value, node.additional)
    elif isinstance(obj, list) and node.items is not None:
        for item in obj:
            apply_defaults(item, node.items)


def has_defaults(node: Node) -> bool:
    children = [*node.properties.values(), node.items,
                node.additional if isinstance(node.additional, Node) else None]
    return node.default is not _NO_DEFAULT or any(has_defaults(c) for c in children if c)
