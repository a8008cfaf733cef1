"""Strict field validation (``fieldValidation=Strict|Warn``): duplicate and unknown fields.

Parsers keep the last of repeated keys and the REST layer drops unknown ones; kube reports both,
as errors under Strict and as warnings under Warn, in the wording built here.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import yaml

from ..status import StatusError, bad_request
from ..validation import go_quote
from .body import YAMLLoader
from .media import JSON, YAML


def find_duplicate_fields(body: bytes, media_type: str = JSON) -> list[str]:
    """Paths (kube's form: ``metadata.name``, ``spec.containers[0].name``) of keys repeated in
    one object of a JSON or YAML body, which parsers silently resolve to the last value.
    A body that does not parse has none (decoding reports it)."""
    return [path for path, _, _ in _duplicates(body, media_type)]


def duplicate_field_errors(body: bytes, media_type: str = JSON) -> list[str]:
    """kube's strict-decoding errors for duplicates: ``duplicate field "metadata.name"`` per
    JSON key; for YAML, go-yaml's one error listing each repeated key's line."""
    found = _duplicates(body, media_type)
    if media_type != YAML:
        return [f"duplicate field {go_quote(path)}" for path, _, _ in found]
    if not found:
        return []
    lines = "\n  ".join(f"line {line}: key {go_quote(key)} already set in map" for _, key, line in found)
    return [f"yaml: unmarshal errors:\n  {lines}"]


def _duplicates(body: bytes, media_type: str) -> list[tuple[str, str, int]]:
    """(path, key, line) of each repeated key; line is 0 for JSON."""
    found: list[tuple[str, str, int]] = []
    try:
        if media_type == YAML:
            _walk_yaml(next(yaml.compose_all(body, Loader=YAMLLoader), None), "", found)
        else:
            text = body.decode("utf-8", "replace")  # as decode_body reads it
            try:  # the usual body has none: one C parse says so, without a walk
                json.loads(text, object_pairs_hook=_no_repeats)
                return found
            except _Repeated:
                pass
            _walk_json(json.loads(text, object_pairs_hook=_Pairs), "", found)
    except (ValueError, yaml.YAMLError, RecursionError):
        return []
    return found


class _Repeated(Exception):
    """A JSON object repeats a key (found by :func:`_no_repeats`; the walk says where)."""


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Repeated
    return result


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object kept as its (key, value) pairs, duplicates included."""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk_json(node: Any, path: str, found: list[tuple[str, str, int]]) -> None:
    if isinstance(node, _Pairs):
        seen: set[str] = set()
        for key, value in node:
            child = _join(path, key)
            if key in seen and (child, key, 0) not in found:  # reported once, as kube does
                found.append((child, key, 0))
            seen.add(key)
            _walk_json(value, child, found)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk_json(value, f"{path}[{i}]", found)


def _walk_yaml(node: yaml.Node | None, path: str, found: list[tuple[str, str, int]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = _join(path, key)
            if key in seen:  # go-yaml reports each repeat, by line
                found.append((child, key, key_node.start_mark.line + 1))
            seen.add(key)
            _walk_yaml(value_node, child, found)
    elif isinstance(node, yaml.SequenceNode):
        for i, value_node in enumerate(node.value):
            _walk_yaml(value_node, f"{path}[{i}]", found)


# A schema for find_unknown_fields: None accepts anything; a dict lists an object's fields; a
# one-element list is an array of that schema; {"*": schema} is a map with values of that schema.
Schema = dict[str, "Schema"] | list["Schema"] | None


def find_unknown_fields(obj: Any, schema: Schema, path: str = "") -> list[str]:
    """Paths of fields in ``obj`` that ``schema`` does not describe, in kube's form."""
    unknown: list[str] = []
    if isinstance(schema, list) and isinstance(obj, list):
        for i, item in enumerate(obj):
            unknown += find_unknown_fields(item, schema[0], f"{path}[{i}]")
    elif isinstance(schema, dict) and isinstance(obj, dict):
        for key, value in obj.items():
            if "*" in schema:
                unknown += find_unknown_fields(value, schema["*"], _join(path, key))
            elif key in schema:
                unknown += find_unknown_fields(value, schema[key], _join(path, key))
            else:
                unknown.append(_join(path, key))
    return unknown


def unknown_field_errors(paths: Collection[str]) -> list[str]:
    # strconv.Quote, as sigs.k8s.io/json words it: a name with a newline stays one line
    return [f"unknown field {go_quote(path)}" for path in paths]


def strict_decoding_error(errors: Collection[str], api_version: str, kind: str) -> StatusError:
    """The 400 kube answers under fieldValidation=Strict; under Warn each error is a warning."""
    version = api_version.rpartition("/")[2]
    return bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: '
                       f"strict decoding error: {', '.join(errors)}")


