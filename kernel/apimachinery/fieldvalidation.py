"""Check a decoded JSON object against a kind's OpenAPI schema the way kube's decoder would.

kube-apiserver decodes request bodies into Go structs (sigs.k8s.io/json, case-sensitive). Two
outcomes matter to clients:

* a value of the wrong type fails decoding with a 400 whose text is Go's own error, e.g.
  ``ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into
  Go struct field ConfigMap.data of type string`` (see :func:`decode_error_message`);
* fields the type does not have are dropped, warned about (``fieldValidation=Warn``, the default)
  or, with ``fieldValidation=Strict``, rejected: ``strict decoding error: unknown field "spec.foo"``.

:func:`check` reports both from the schema alone, so the generic REST handlers need no Go-like
struct per kind. Only the first type error is what kube reports (Go keeps the first decode error).
Duplicate JSON keys are not detected: the JSON parser has already merged them.

:func:`patch_meta` reads ``x-kubernetes-patch-strategy`` / ``x-kubernetes-patch-merge-key`` for
strategic-merge patch from the same schemas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kernel.apimachinery.validation import go_quote

Schema = Mapping[str, Any]

_REF_PREFIX = "#/components/schemas/"


@dataclass
class FieldReport:
    """What decoding ``obj`` into the kind would complain about."""

    unknown: list[str] = field(default_factory=list)  # kube's field paths: "spec.foo", "a.b[0].c"
    type_errors: list[str] = field(default_factory=list)  # Go's decode error texts, in order
    #: (the dict holding it, its key) of each unknown field, for drop_unknown
    unknown_refs: list[tuple[dict[str, Any], str]] = field(default_factory=list, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.unknown and not self.type_errors

    def drop_unknown(self) -> None:
        """Remove the unknown fields from the checked object, as decoding it into the kind's Go
        struct does: they are never stored (under Warn and Ignore; Strict refuses them)."""
        for container, key in self.unknown_refs:
            container.pop(key, None)


def check(obj: Any, schema_name: str, schemas: Mapping[str, Schema]) -> FieldReport:
    """Walk ``obj`` against component ``schema_name`` of ``schemas``."""
    report = FieldReport()
    _Walker(schemas, report).walk(obj, {"$ref": _REF_PREFIX + schema_name}, _Context())
    return report


def strict_error(unknown: list[str]) -> str:
    """runtime.strictDecodingError's text for fieldValidation=Strict."""
    return "strict decoding error: " + ", ".join(f"unknown field {go_quote(p)}" for p in unknown)


def unknown_field_warnings(unknown: list[str]) -> list[str]:
    """The Warning header texts kube sends for fieldValidation=Warn."""
    return [f"unknown field {go_quote(p)}" for p in unknown]


def decode_error_message(kind: str, version: str, error: str) -> str:
    """The 400 BadRequest message of a body that does not decode (handlers.transformDecodeError)."""
    return f'{kind} in version "{version}" cannot be handled as a {kind}: {error}'


# --- resolving schemas ----------------------------------------------------------------------


def _component(ref: str) -> str:
    return ref[len(_REF_PREFIX):] if ref.startswith(_REF_PREFIX) else ref


def resolve(schema: Schema, schemas: Mapping[str, Schema]) -> tuple[Schema, str | None]:
    """Follow ``$ref`` (bare or kube's ``allOf: [{$ref}]``) to the component; the property's own
    keys (extensions, nullable) win over the component's. Returns (schema, component name)."""
    name = None
    target: Schema | None = None
    if "$ref" in schema:
        name = _component(schema["$ref"])
    elif len(schema.get("allOf") or ()) == 1 and "$ref" in schema["allOf"][0]:
        name = _component(schema["allOf"][0]["$ref"])
    if name is None:
        return schema, None
    target = schemas.get(name, {})
    merged = dict(target)
    merged.update({k: v for k, v in schema.items() if k not in ("$ref", "allOf", "description", "default")})
    return merged, name


def _go_type(schema: Schema, schemas: Mapping[str, Schema]) -> str:
    """The Go type kube decodes a schema into, as Go's reflect prints it."""
    schema, name = resolve(schema, schemas)
    if _int_or_string(schema):
        return "intstr.IntOrString"
    kind, fmt = schema.get("type"), schema.get("format")
    if name and (kind == "object" or "properties" in schema or fmt == "date-time"):
        package, _, short = name.rpartition(".")
        return f"{package.rpartition('.')[2]}.{short}"
    if kind == "string":
        return "[]uint8" if fmt == "byte" else "string"
    if kind == "integer":
        return "int32" if fmt == "int32" else "int64"
    if kind == "number":
        return "float32" if fmt == "float" else "float64"
    if kind == "boolean":
        return "bool"
    if kind == "array":
        return "[]" + _go_type(schema.get("items") or {}, schemas)
    if isinstance(schema.get("additionalProperties"), Mapping):
        return "map[string]" + _go_type(schema["additionalProperties"], schemas)
    return "map[string]interface {}"


def _int_or_string(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-int-or-string")) or schema.get("format") == "int-or-string"


# --- the walk -------------------------------------------------------------------------------


class _Context:
    """Where the walk is (read-only; a plain slotted class: one is made per field walked, and a
    frozen dataclass costs three times as much to make)."""

    __slots__ = ("strict_path", "field_stack", "struct")

    def __init__(self, strict_path: tuple[str, ...] = (), field_stack: tuple[str, ...] = (),
                 struct: str = "") -> None:
        self.strict_path = strict_path  # strict errors: fields, map keys and [i]
        self.field_stack = field_stack  # type errors: struct fields only (encoding/json's FieldStack)
        self.struct = struct  # the innermost Go struct being decoded

    def key(self, name: str) -> tuple[str, ...]:
        return self.strict_path + ((".", name) if self.strict_path else (name,))


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


class _Walker:
    def __init__(self, schemas: Mapping[str, Schema], report: FieldReport) -> None:
        self.schemas = schemas
        self.report = report

    def type_error(self, value: Any, schema: Schema, ctx: _Context, literal: bool = False) -> None:
        # Go: "number 1.5" when a number literal does not fit the integer type, else the JSON kind.
        kind = f"number {_number_literal(value)}" if literal else _json_kind(value)
        target = _go_type(schema, self.schemas)
        if ctx.struct or ctx.field_stack:
            where = f"Go struct field {ctx.struct}.{'.'.join(ctx.field_stack)}"
        else:
            where = "Go value"
        self.report.type_errors.append(f"json: cannot unmarshal {kind} into {where} of type {target}")

    def walk(self, value: Any, raw: Schema, ctx: _Context) -> None:
        schema, name = resolve(raw, self.schemas)
        if value is None:
            return  # Go leaves the zero value for null, whatever the type
        if _int_or_string(schema):
            self._int_or_string(value)
            return
        kind = schema.get("type")
        if kind == "string":
            self._string(value, schema, raw, ctx)
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.type_error(value, raw, ctx)
            elif isinstance(value, float) or not _fits(value, _go_type(raw, self.schemas)):
                self.type_error(value, raw, ctx, literal=True)
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.type_error(value, raw, ctx)
        elif kind == "boolean":
            if not isinstance(value, bool):
                self.type_error(value, raw, ctx)
        elif kind == "array":
            if not isinstance(value, list):
                self.type_error(value, raw, ctx)
                return
            items = schema.get("items") or {}
            for i, item in enumerate(value):
                self.walk(item, items, _Context(ctx.strict_path + (f"[{i}]",), ctx.field_stack, ctx.struct))
        elif kind == "object" or "properties" in schema or "additionalProperties" in schema:
            if not isinstance(value, dict):
                self.type_error(value, raw, ctx)
                return
            self._object(value, schema, name, ctx)
        # no type: opaque (RawExtension-like), anything decodes

    def _object(self, value: dict[str, Any], schema: Schema, name: str | None, ctx: _Context) -> None:
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties is not None:
            struct = name.rpartition(".")[2] if name else ctx.struct
            for key, item in value.items():
                if key in properties:
                    self.walk(item, properties[key],
                              _Context(ctx.key(key), ctx.field_stack + (key,), struct))
                elif isinstance(extra, Mapping):
                    self.walk(item, extra, _Context(ctx.key(key), ctx.field_stack, ctx.struct))
                elif not preserve and extra is not True:
                    self.report.unknown.append("".join(ctx.key(key)))
                    self.report.unknown_refs.append((value, key))
        elif isinstance(extra, Mapping):
            for key, item in value.items():
                self.walk(item, extra, _Context(ctx.key(key), ctx.field_stack, ctx.struct))
        # an object with neither properties nor additionalProperties keeps whatever it holds

    def _string(self, value: Any, schema: Schema, raw: Schema, ctx: _Context) -> None:
        fmt = schema.get("format")
        if fmt == "date-time":
            # metav1.Time has its own UnmarshalJSON: no struct context, then time.Parse(RFC3339).
            if not isinstance(value, str):
                self.report.type_errors.append(
                    f"json: cannot unmarshal {_json_kind(value)} into Go value of type string")
            elif (error := go_rfc3339_error(value)) is not None:
                self.report.type_errors.append(error)
        elif not isinstance(value, str):
            self.type_error(value, raw, ctx)
        elif fmt == "byte" and (error := go_base64_error(value)) is not None:
            self.report.type_errors.append(error)

    def _int_or_string(self, value: Any) -> None:
        # intstr.IntOrString.UnmarshalJSON: a string, else an int32; errors carry no context.
        if isinstance(value, str):
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.report.type_errors.append(
                f"json: cannot unmarshal {_json_kind(value)} into Go value of type int32")
        elif isinstance(value, float) or not _fits(value, "int32"):
            self.report.type_errors.append(
                f"json: cannot unmarshal number {_number_literal(value)} into Go value of type int32")


def _fits(value: int, go_type: str) -> bool:
    low, high = _INT_RANGES.get(go_type, _INT_RANGES["int64"])
    return low <= value <= high


def _number_literal(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


# --- Go error texts for strings with a format -----------------------------------------------

_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_NEWLINES = (ord("\n"), ord("\r"))


def go_base64_error(text: str) -> str | None:
    """encoding/base64.StdEncoding.Decode's CorruptInputError text, or None when ``text`` decodes.

    A port of Go's quantum loop, so the reported byte offset is the one kube reports.
    """
    src, si, n = text.encode(), 0, len(text.encode())
    while True:
        j = 0
        while j < 4:
            if si == n:
                if j == 0:
                    return None
                return _corrupt(si - j)  # a partial quantum: StdEncoding requires padding
            c = src[si]
            si += 1
            if c in _B64_ALPHABET:
                j += 1
                continue
            if c in _NEWLINES:
                continue
            if c != ord("=") or j < 2:
                return _corrupt(si - 1)
            if j == 2:  # "==" expected, the first "=" already consumed
                while si < n and src[si] in _NEWLINES:
                    si += 1
                if si == n:
                    return _corrupt(n)
                if src[si] != ord("="):
                    return _corrupt(si - 1)
                si += 1
            while si < n and src[si] in _NEWLINES:
                si += 1
            return _corrupt(si) if si < n else None


def _corrupt(offset: int) -> str:
    return f"illegal base64 data at input byte {offset}"


_RFC3339 = "2006-01-02T15:04:05Z07:00"
# time.Parse walks the layout as (literal prefix, element, digits, [low, high], range name);
# the day is range-checked last, against the month's length.
_ELEMENTS = (("", "2006", 4, None, ""), ("-", "01", 2, (1, 12), "month"), ("-", "02", 2, None, "day"),
             ("T", "15", 2, (0, 23), "hour"), (":", "04", 2, (0, 59), "minute"),
             (":", "05", 2, (0, 59), "second"))
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def go_rfc3339_error(value: str) -> str | None:
    """time.Parse(time.RFC3339, value)'s error text (what metav1.Time reports), or None."""
    def bad(rest: str, elem: str) -> str:
        return (f"parsing time {_go_quote(value)} as {_go_quote(_RFC3339)}: "
                f"cannot parse {_go_quote(rest)} as {_go_quote(elem)}")

    rest, numbers = value, []
    for prefix, elem, digits, bounds, name in _ELEMENTS:
        if not rest.startswith(prefix):
            return bad(rest, prefix)
        rest = rest[len(prefix):]
        # the hour ("15") may have one digit; every other element is fixed width
        width = 2 if elem == "15" and len(rest) > 1 and rest[1].isdigit() else (1 if elem == "15" else digits)
        chunk = rest[:width]
        if len(chunk) < width or not chunk.isascii() or not chunk.isdigit():
            return bad(rest, elem)
        number = int(chunk)
        if bounds and not bounds[0] <= number <= bounds[1]:
            return f"parsing time {_go_quote(value)}: {name} out of range"
        numbers.append(number)
        rest = rest[width:]
    if re.match(r"[.,][0-9]", rest):  # fractional seconds are accepted after the seconds
        rest = re.sub(r"^[.,][0-9]+", "", rest)
    if rest.startswith("Z"):
        rest = rest[1:]
    elif len(rest) < 6 or rest[3] != ":" or rest[0] not in "+-" or not (rest[1:3] + rest[4:6]).isdigit():
        return bad(rest, "Z07:00")
    else:
        rest = rest[6:]
    if rest:
        return f"parsing time {_go_quote(value)}: extra text: {_go_quote(rest)}"
    year, month, day = numbers[:3]
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day < 1 or day > _DAYS[month - 1] or (month == 2 and day == 29 and not leap):
        return f"parsing time {_go_quote(value)}: day out of range"
    return None


# --- strategic-merge patch metadata ---------------------------------------------------------


class PatchMeta:
    """Strategic-merge metadata of one kind, looked up by field path from the object root."""

    def __init__(self, schema_name: str, schemas: Mapping[str, Schema]) -> None:
        self.schemas = schemas
        self.root: Schema = {"$ref": _REF_PREFIX + schema_name}

    def schema_at(self, path: tuple[str, ...]) -> Schema | None:
        """The (unresolved) schema of the field at ``path``; list items are transparent."""
        current: Schema = self.root
        for name in path:
            schema, _ = resolve(current, self.schemas)
            while schema.get("type") == "array":
                schema, _ = resolve(schema.get("items") or {}, self.schemas)
            properties = schema.get("properties") or {}
            if name in properties:
                current = properties[name]
            elif isinstance(schema.get("additionalProperties"), Mapping):
                current = schema["additionalProperties"]
            else:
                return None
        return current

    def lookup(self, path: tuple[str, ...]) -> tuple[str | None, str | None]:
        """(x-kubernetes-patch-strategy, x-kubernetes-patch-merge-key) of the field at ``path``."""
        raw = self.schema_at(path)
        if raw is None:
            return None, None
        resolved, _ = resolve(raw, self.schemas)
        strategy = raw.get("x-kubernetes-patch-strategy", resolved.get("x-kubernetes-patch-strategy"))
        key = raw.get("x-kubernetes-patch-merge-key", resolved.get("x-kubernetes-patch-merge-key"))
        return strategy, key


def patch_meta(schema_name: str, schemas: Mapping[str, Schema]) -> PatchMeta:
    return PatchMeta(schema_name, schemas)
