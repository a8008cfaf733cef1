"""A tiny protobuf encoder for building test bodies by hand (field by field, any wire type)."""

from __future__ import annotations

from kernel.apimachinery.protobuf import MAGIC


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative numbers as Go sends them: ten-byte two's complement
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


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
