"""Protocol-buffer wire format reader: varints, length-delimited, fixed32/64, skipping unknowns.

Every read is bounds-checked against the end of the enclosing message, so malformed or truncated
input raises ``DecodeError`` (never IndexError, never a loop that does not advance). Error texts are
those of the gogo-generated Go unmarshallers kube uses, so a client sees what kube would say.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT, FIXED64, LEN, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
_U64 = (1 << 64) - 1
# Groups are long obsolete; a bound on their nesting keeps a hostile body from exhausting the stack.
_MAX_GROUP_DEPTH = 64

ERR_EOF = "unexpected EOF"
ERR_OVERFLOW = "proto: integer overflow"
ERR_NEGATIVE_LENGTH = "proto: negative length found during unmarshaling"


class DecodeError(ValueError):
    """A protobuf body kube would refuse.

    ``code`` is the HTTP status the REST layer should answer: 400 for a malformed body, 415 for a
    well-formed envelope whose kind, or a set field of it, this server cannot decode from
    protobuf (the client should send JSON or YAML; ``detail`` says what was not understood).
    ``api_version``/``kind`` are those of the envelope once known.
    """

    def __init__(self, message: str, code: int = 400, api_version: str = "", kind: str = "",
                 detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.api_version = api_version
        self.kind = kind
        self.detail = detail


def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Return (unsigned value, next position); at most 10 bytes, as Go's decoder allows."""
    result = 0
    shift = 0
    while True:
        if shift >= 64:
            raise DecodeError(ERR_OVERFLOW)
        if pos >= end:
            raise DecodeError(ERR_EOF)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _U64, pos
        shift += 7


def to_int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def to_int32(value: int) -> int:
    # Go assigns the varint to an int32 by truncation; negative int32s arrive sign-extended.
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def read_length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Read a length prefix; return (start, stop) of the payload, checked against ``end``."""
    length, pos = read_varint(buf, pos, end)
    if length >= 1 << 63:  # Go reads it into an int: a negative length
        raise DecodeError(ERR_NEGATIVE_LENGTH)
    stop = pos + length
    if stop > end:
        raise DecodeError(ERR_EOF)
    return pos, stop


def fields(buf: bytes, pos: int, end: int, message: str) -> Iterator[tuple[int, int, int, int]]:
    """Yield (field number, wire type, a, b) for each field of the message in buf[pos:end].

    For VARINT, FIXED32 and FIXED64 ``a`` is the value (unsigned) and ``b`` is 0; for LEN,
    ``buf[a:b]`` is the payload. A group (wire type 3, which no kube type uses) is skipped whole
    and yielded with a = b = 0, so that a known field sent as a group is still refused.
    """
    while pos < end:
        tag, pos = read_varint(buf, pos, end)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == END_GROUP:
            raise DecodeError(f"proto: {message}: wiretype end group for non-group")
        if to_int32(number) <= 0:  # Go keeps the field number in an int32
            raise DecodeError(
                f"proto: {message}: illegal tag {to_int32(number)} (wire type {wire_type})")
        if wire_type == START_GROUP:
            pos = skip_group(buf, pos, end, 1)
            a = b = 0
        else:
            a, b, pos = read_value(buf, pos, end, wire_type)
        yield number, wire_type, a, b


def read_value(buf: bytes, pos: int, end: int, wire_type: int) -> tuple[int, int, int]:
    """Read one non-group value of ``wire_type``; return (a, b, next position) as in ``fields``."""
    if wire_type == VARINT:
        value, pos = read_varint(buf, pos, end)
        return value, 0, pos
    if wire_type == LEN:
        start, stop = read_length(buf, pos, end)
        return start, stop, stop
    if wire_type == FIXED64:
        if pos + 8 > end:
            raise DecodeError(ERR_EOF)
        return int.from_bytes(buf[pos:pos + 8], "little"), 0, pos + 8
    if wire_type == FIXED32:
        if pos + 4 > end:
            raise DecodeError(ERR_EOF)
        return int.from_bytes(buf[pos:pos + 4], "little"), 0, pos + 4
    raise DecodeError(f"proto: illegal wireType {wire_type}")


def skip_group(buf: bytes, pos: int, end: int, depth: int) -> int:
    """Skip to just past the END_GROUP closing a group opened before ``pos``."""
    while True:
        if pos >= end:
            raise DecodeError(ERR_EOF)
        tag, pos = read_varint(buf, pos, end)
        wire_type = tag & 7
        if wire_type == END_GROUP:
            depth -= 1
            if depth == 0:
                return pos
        elif wire_type == START_GROUP:
            depth += 1
            if depth > _MAX_GROUP_DEPTH:
                raise DecodeError("proto: groups nested too deeply")
        else:
            _, _, pos = read_value(buf, pos, end, wire_type)


def packed_varints(buf: bytes, start: int, stop: int) -> Iterator[int]:
    """The values of a packed repeated varint field (proto3 style, which decoders must accept)."""
    pos = start
    while pos < stop:
        value, pos = read_varint(buf, pos, stop)
        yield value


# -- encoding (the OpenAPI v2 document in protobuf, tests' hand-built bodies) ---------------------

def encode_varint(value: int) -> bytes:
    """A varint; a negative int64 is ten bytes of two's complement, as Go writes it."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_bytes(number: int, data: bytes) -> bytes:
    """A length-delimited field (string, bytes, message)."""
    return encode_varint(number << 3 | 2) + encode_varint(len(data)) + data
