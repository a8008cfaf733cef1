"""The ``fieldPath`` of an x-kubernetes-validations rule: a JSON path relative to the rule's node
(``.spec.replicas``, ``['a.b']``, ``.labels['app']``), checked against the schema and normalised
to the field path errors report (apiextensions-apiserver schema/cel ValidFieldPath)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "'": "'", '"': '"', "\\": "\\"}


class FieldPathError(ValueError):
    pass


def _tokens(text: str) -> list[str]:
    """kube's scanner: delimiters ``.``, ``[`` and ``]``; a single-quoted string is one token."""
    tokens: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "'":
            j = i + 1
            while j < len(text) and not (text[j] == "'" and text[j - 1] != "\\"):
                j += 1
            tokens.append(text[i:j + 1])
            i = j + 1
        elif text[i] in ".[]":
            tokens.append(text[i])
            i += 1
        else:
            j = i
            while j < len(text) and text[j] not in ".[]":
                j += 1
            tokens.append(text[i:j])
            i = j
    return tokens


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        char = match.group(0)[1]
        if char not in _ESCAPES:
            raise FieldPathError(f"invalid string literal: invalid escape char {match.group(0)}")
        return _ESCAPES[char]
    return re.sub(r"\\.", one, text)


def _step(schema: Mapping[str, Any], name: str, path: str) -> tuple[Mapping[str, Any], str]:
    properties = schema.get("properties")
    if properties is not None:
        if name not in properties:
            raise FieldPathError("does not refer to a valid field")
        return properties[name], f"{path}.{name}" if path else name
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        return extra, f"{path}[{name}]"
    raise FieldPathError("does not refer to a valid field")


def normalize(field_path: str, schema: Mapping[str, Any]) -> str:
    """The path as kube's field.Path prints it (``spec.labels[app]``); FieldPathError if it does
    not parse or does not refer to a field of ``schema``."""
    tokens = _tokens(field_path)
    path, i = "", 0
    while i < len(tokens):
        token = tokens[i]
        if token == "[":
            if i + 1 >= len(tokens):
                raise FieldPathError("unexpected end of JSON path")
            quoted = tokens[i + 1]
            if len(quoted) < 2 or quoted[0] != "'" or quoted[-1] != "'":
                raise FieldPathError(f"expected single quoted string but got {quoted}")
            schema, path = _step(schema, _unescape(quoted[1:-1]), path)
            if i + 2 >= len(tokens):
                raise FieldPathError("unexpected end of JSON path")
            if tokens[i + 2] != "]":
                raise FieldPathError(f"expected ] but got {tokens[i + 2]}")
            i += 3
        elif token == ".":
            if i + 1 >= len(tokens):
                raise FieldPathError("unexpected end of JSON path")
            schema, path = _step(schema, tokens[i + 1], path)
            i += 2
        else:
            raise FieldPathError(f"expected [ or . but got: {token}")
    return path
