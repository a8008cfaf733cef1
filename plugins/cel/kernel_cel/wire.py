"""A small protobuf wire-format reader, for cel-cpp's serialized ``cel.expr.CheckedExpr``.

Why hand-written: the CEL AST protos (cel/expr/checked.proto, syntax.proto) are not shipped
with cel-expr-python or protobuf, and the cost estimator only needs a few fields; reading the
wire format directly avoids building and maintaining their descriptors."""

from __future__ import annotations

import struct


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(buf: bytes) -> dict[int, list[int | bytes]]:
    """Field number → values in order (varints as ints, length-delimited as bytes, fixed as ints)."""
    out: dict[int, list[int | bytes]] = {}
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, kind = key >> 3, key & 7
        value: int | bytes
        if kind == 0:
            value, pos = _varint(buf, pos)
        elif kind == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif kind == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif kind == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise ValueError(f"unsupported wire type {kind}")
        out.setdefault(number, []).append(value)
    return out


def first(msg: dict[int, list], number: int, default: object = None) -> object:
    values = msg.get(number)
    return values[-1] if values else default


def signed(value: int) -> int:
    """An int64 read as an unsigned varint."""
    return value - (1 << 64) if value >= 1 << 63 else value


def double(value: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", value))[0]


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else ""
