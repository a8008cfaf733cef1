"""Message schemas (field number → JSON name and kind) and the decoder that turns bytes into JSON.

The output is the object as kube's JSON encoding shows it: a field is omitted when it is
``omitempty`` and zero (gogo always writes non-pointer fields, so kubectl's empty strings arrive
explicitly and must read as unset), a nested message that is present is always an object
(encoding/json never omits structs, so kubectl shows ``"status": {}``), and a zero metav1.Time is
omitted where Go would write ``null``.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

import msgspec

from .wire import (LEN, VARINT, DecodeError, fields, packed_varints, to_int32, to_int64)

# Scalar kinds and the wire type each is sent as.
STRING, BYTES, INT32, INT64, BOOL = "string", "bytes", "int32", "int64", "bool"
# Message-valued kinds: a nested schema, and kube's special messages with their own JSON forms.
MESSAGE, TIME, QUANTITY, INT_OR_STRING, MAP = "message", "time", "quantity", "intorstring", "map"
# metav1.MicroTime: a Timestamp whose JSON keeps microseconds.
MICROTIME = "microtime"
# A message {1 repeated string} whose Go type is a []string (authentication's ExtraValue), and
# a message {1 bytes} holding raw JSON (metav1.FieldsV1).
STRINGS, RAW_JSON = "strings", "rawjson"
_WIRE = {STRING: LEN, BYTES: LEN, INT32: VARINT, INT64: VARINT, BOOL: VARINT, MESSAGE: LEN,
         TIME: LEN, MICROTIME: LEN, QUANTITY: LEN, INT_OR_STRING: LEN, MAP: LEN, STRINGS: LEN, RAW_JSON: LEN}
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_GO_ZERO_TIME = -62135596800  # 0001-01-01T00:00:00Z in Unix seconds


class Field(msgspec.Struct, frozen=True):
    name: str
    kind: str
    message: Message | None = None  # MESSAGE, and MAP with MESSAGE values
    repeated: bool = False
    # Emit the zero value too: the Go field is a pointer (sent only when set) or lacks omitempty.
    keep_zero: bool = False
    value: str = STRING  # MAP value kind
    # An embedded Go struct (``json:",inline"``): its fields appear in the parent's JSON object.
    inline: bool = False

    @property
    def go_name(self) -> str:
        return self.name[:1].upper() + self.name[1:]


@dataclass(frozen=True, slots=True)
class Message:
    name: str
    fields: dict[int, Field] = field(default_factory=dict)
    #: Fills ``fields`` on first decode: generated catalogues (kernel.apimachinery.apitypes)
    #: build their hundreds of messages lazily, so startup pays only for what is used.
    build: Callable[[Message], None] | None = field(default=None, compare=False, repr=False)

    def resolved(self) -> dict[int, Field]:
        """The fields, built first if the message is lazy."""
        if not self.fields and self.build is not None:
            self.build(self)
        return self.fields


# Constructors that keep the schema tables readable.
def string(name: str, *, repeated: bool = False, keep_zero: bool = False) -> Field:
    return Field(name, STRING, repeated=repeated, keep_zero=keep_zero)


def bytes_(name: str) -> Field:
    return Field(name, BYTES)


def int32(name: str, *, keep_zero: bool = False, repeated: bool = False) -> Field:
    return Field(name, INT32, keep_zero=keep_zero, repeated=repeated)


def int64(name: str, *, keep_zero: bool = False) -> Field:
    return Field(name, INT64, keep_zero=keep_zero)


def boolean(name: str, *, keep_zero: bool = False) -> Field:
    return Field(name, BOOL, keep_zero=keep_zero)


def message(name: str, schema: Message, *, repeated: bool = False, inline: bool = False) -> Field:
    return Field(name, MESSAGE, schema, repeated=repeated, inline=inline)


def raw_json(name: str) -> Field:
    return Field(name, RAW_JSON)


def time(name: str) -> Field:
    return Field(name, TIME)


def quantity(name: str) -> Field:
    return Field(name, QUANTITY)


def int_or_string(name: str, *, keep_zero: bool = False) -> Field:
    return Field(name, INT_OR_STRING, keep_zero=keep_zero)


def map_of(name: str, value: str = STRING, schema: Message | None = None) -> Field:
    return Field(name, MAP, schema, value=value)


def decode_message(schema: Message, buf: bytes, start: int = 0, end: int | None = None,
                   out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Decode buf[start:end] as ``schema`` into ``out`` (merged into, as protobuf merges repeats).

    Recursion follows the schema, which is finite, so hostile nesting cannot go deeper.
    """
    end = len(buf) if end is None else end
    out = {} if out is None else out
    if not schema.fields and schema.build is not None:
        schema.resolved()
    for number, wire_type, a, b in fields(buf, start, end, schema.name):
        f = schema.fields.get(number)
        if f is None:
            # kube drops unknown fields; a schema here may cover only part of a kube type, so
            # dropping a set field could lose data. Zero values (gogo sends every non-pointer
            # field) are safe to skip; anything else is refused so the client can send JSON.
            if (wire_type == LEN and a != b) or (wire_type != LEN and a != 0):
                raise DecodeError(f"protobuf field {number} of {schema.name} is not supported",
                                  code=415)
            continue
        if f.repeated and wire_type == LEN and _WIRE[f.kind] == VARINT:
            values = [_scalar(f.kind, v) for v in packed_varints(buf, a, b)]
            out.setdefault(f.name, []).extend(values)
            continue
        if wire_type != _WIRE[f.kind]:
            raise DecodeError(f"proto: wrong wireType = {wire_type} for field {f.go_name}")
        if f.kind == MAP:
            key, value = _map_entry(f, buf, a, b)
            out.setdefault(f.name, {})[key] = value
        elif f.kind == MESSAGE:
            assert f.message is not None
            if f.repeated:
                out.setdefault(f.name, []).append(decode_message(f.message, buf, a, b))
            elif f.inline:
                decode_message(f.message, buf, a, b, out)
            else:
                decode_message(f.message, buf, a, b, out.setdefault(f.name, {}))
        else:
            value = _value(f.kind, buf, a, b)
            if f.repeated:
                out.setdefault(f.name, []).append(value)
            elif value is None or (not f.keep_zero and _is_zero(value)):
                out.pop(f.name, None)  # the last occurrence wins, and it reads as unset
            else:
                out[f.name] = value
    return out


def _is_zero(value: Any) -> bool:
    return value == "" or value == 0  # False == 0 too; True does not


def _scalar(kind: str, raw: int) -> Any:
    if kind == INT32:
        return to_int32(raw)
    if kind == INT64:
        return to_int64(raw)
    return raw != 0  # BOOL


def _value(kind: str, buf: bytes, a: int, b: int) -> Any:
    if kind in (INT32, INT64, BOOL):
        return _scalar(kind, a)
    if kind == STRING:
        # Go does not validate UTF-8 here; its JSON encoder writes U+FFFD for bad bytes.
        return buf[a:b].decode("utf-8", "replace")
    if kind == BYTES:
        return base64.b64encode(buf[a:b]).decode("ascii")
    if kind == TIME:
        return _time(buf, a, b)
    if kind == MICROTIME:
        return _time(buf, a, b, micro=True)
    if kind == QUANTITY:
        return decode_message(_QUANTITY, buf, a, b).get("string", "")
    if kind == INT_OR_STRING:
        ios = decode_message(_INT_OR_STRING, buf, a, b)
        return ios.get("strVal", "") if ios.get("type") == 1 else ios.get("intVal", 0)
    if kind == STRINGS:
        return decode_message(_STRINGS, buf, a, b).get("items", [])
    if kind == RAW_JSON:
        raw = b""
        for number, wire_type, x, y in fields(buf, a, b, "FieldsV1"):
            if number == 1 and wire_type == LEN:
                raw = buf[x:y]
        try:
            return msgspec.json.decode(raw) if raw else None
        except (msgspec.DecodeError, RecursionError) as e:
            raise DecodeError(f"invalid JSON in protobuf field: {e}") from None
    raise AssertionError(kind)


def _time(buf: bytes, a: int, b: int, micro: bool = False) -> str | None:
    """metav1.Time → RFC 3339 in seconds, as kube's JSON has it; None for the zero time.

    Go writes the zero time as an empty message and reads any non-empty one with its nanos dropped
    (a metav1.MicroTime keeps them, written as microseconds).
    """
    if a == b:
        return None
    stamp = decode_message(_TIMESTAMP, buf, a, b)
    seconds = stamp.get("seconds", 0)
    try:
        when = _EPOCH + datetime.timedelta(seconds=seconds)
    except OverflowError:  # outside years 1-9999, which neither Python nor RFC 3339 can write
        raise DecodeError(f"proto: Time out of range: {seconds} seconds") from None
    if seconds == _GO_ZERO_TIME:
        return None  # Go's zero time, which its JSON shows as null
    if micro:
        return f"{when.year:04d}-{when:%m-%dT%H:%M:%S}.{stamp.get('nanos', 0) // 1000:06d}Z"
    return f"{when.year:04d}-{when:%m-%dT%H:%M:%S}Z"


def _map_entry(f: Field, buf: bytes, a: int, b: int) -> tuple[str, Any]:
    """A map entry is a message {1 key, 2 value}; a missing half is the zero value."""
    key = ""
    value: Any = {STRING: "", BYTES: "", QUANTITY: "", MESSAGE: {}, STRINGS: []}.get(f.value, 0)
    for number, wire_type, x, y in fields(buf, a, b, f.go_name + "Entry"):
        if number == 1:
            if wire_type != LEN:
                raise DecodeError(f"proto: wrong wireType = {wire_type} for field key")
            key = buf[x:y].decode("utf-8", "replace")
        elif number == 2:
            if wire_type != _WIRE[f.value]:
                raise DecodeError(f"proto: wrong wireType = {wire_type} for field value")
            if f.value == MESSAGE:
                assert f.message is not None
                value = decode_message(f.message, buf, x, y)
            else:
                value = _value(f.value, buf, x, y)
    return key, value


_TIMESTAMP = Message("Timestamp", {1: int64("seconds"), 2: int32("nanos")})
_QUANTITY = Message("Quantity", {1: string("string")})
_STRINGS = Message("ExtraValue", {1: string("items", repeated=True)})
_INT_OR_STRING = Message("IntOrString", {1: int64("type"), 2: int32("intVal"), 3: string("strVal")})
