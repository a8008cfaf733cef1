"""A tiny protobuf encoder for building test bodies by hand (field by field, any wire type)."""

from __future__ import annotations

from kernel.apimachinery.protobuf import MAGIC
from kernel.apimachinery.protobuf.wire import encode_varint


varint = encode_varint


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def vi(number: int, n: int) -> bytes:
    """A varint field (int32, int64, bool)."""
    return tag(number, 0) + varint(n)


def ld(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (string, bytes, message)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return tag(number, 2) + varint(len(data)) + data


def entry(number: int, key: str, value: bytes | str) -> bytes:
    """One map entry."""
    return ld(number, ld(1, key) + ld(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return MAGIC + ld(1, ld(1, api_version) + ld(2, kind)) + ld(2, raw)
