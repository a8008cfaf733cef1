"""JSON values as the CEL values their schema declares (kube's UnstructuredToVal): numbers are
doubles, ``date``/``date-time`` strings timestamps, ``duration`` strings durations, ``byte``
strings bytes, and properties are reachable under their escaped names. Only the parts of a
schema that need it are walked; a schema that needs nothing converts nothing."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from google.protobuf import duration_pb2, timestamp_pb2

from .schema import Decl

Converter = Callable[[Any], Any]
_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> timedelta | None:
    """Go's time.ParseDuration (``1h30m``, ``-1.5s``, ``0``)."""
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if body == "0":
        return timedelta(0)
    pos, seconds = 0, 0.0
    for match in _DURATION.finditer(body):
        if match.start() != pos or not match.group(1) or match.group(1) == ".":
            return None
        seconds, pos = seconds + float(match.group(1)) * _UNITS[match.group(2)], match.end()
    return timedelta(seconds=sign * seconds) if body and pos == len(body) else None


def parse_timestamp(text: str) -> datetime | None:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _timestamp(value: Any) -> Any:
    """cel-expr-python takes a datetime only as a whole variable; inside a map it takes the
    well-known protobuf message, which CEL sees as a timestamp."""
    parsed = parse_timestamp(value) if isinstance(value, str) else None
    if parsed is None:
        return value
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(parsed)
    return message


def _duration(value: Any) -> Any:
    parsed = parse_duration(value) if isinstance(value, str) else None
    if parsed is None:
        return value
    message = duration_pb2.Duration()
    message.FromTimedelta(parsed)
    return message


def _scalar(kind: str) -> Converter | None:
    if kind == "double":
        return lambda v: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
    if kind == "timestamp":
        return _timestamp
    if kind == "duration":
        return _duration
    if kind == "bytes":
        return _bytes
    return None


def _bytes(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value


def converter(decl: Decl, building: dict[int, Any] | None = None) -> Converter | None:
    """The conversion for values of ``decl``, None when values are used as stored."""
    building = {} if building is None else building
    if id(decl) in building:  # recursive schema: conversion decided by the outer call
        return building[id(decl)]
    building[id(decl)] = None
    if decl.kind in ("list", "map"):
        inner = converter(decl.elem, building)
        if inner is None:
            return None
        if decl.kind == "list":
            return lambda v: [inner(x) for x in v] if isinstance(v, list) else v
        return lambda v: {k: inner(x) for k, x in v.items()} if isinstance(v, dict) else v
    if decl.kind == "object":
        return _object(decl, building)
    return _scalar(decl.kind)


def _object(decl: Decl, building: dict[int, Any]) -> Converter | None:
    cell: list[Converter] = []
    building[id(decl)] = lambda v: cell[0](v)  # a recursive reference converts through the cell
    fields = {}
    for escaped, child in decl.fields.items():
        inner = converter(child, building)
        name = decl.names.get(escaped, escaped)
        if inner is not None or name != escaped:
            fields[name] = (escaped, inner)
    if not fields:
        cell.append(lambda v: v)
        building[id(decl)] = None
        return None

    def convert(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = dict(value)
        for name, (escaped, inner) in fields.items():
            if name in value:
                item = out.pop(name)
                out[escaped] = inner(item) if inner is not None and item is not None else item
        return out

    cell.append(convert)
    return convert
