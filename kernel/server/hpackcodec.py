"""HPACK (RFC 7541) for the kernel's HTTP/2: requests' header blocks decoded, responses' encoded.

The hpack library (h2's) decodes a kubectl GET's ten fields in about 19 µs and encodes a small
response's in 33-42 µs, most of a small GET's HTTP/2 cost beyond HTTP/1.1. Both sides are written
here because what a server needs is narrower than what hpack does for any peer:

- :class:`RequestDecoder` keeps the dynamic table as a list of (name, value) pairs and returns
  the fields as they are stored (no per-field objects), and Huffman-decoded strings are kept per
  encoded form across connections (a client that does not index a field, as nghttp2 does for
  ``authorization``, sends the same Huffman bytes each time). The Huffman decoding itself is
  hpack's.
- :class:`ResponseEncoder` never writes the client's dynamic table (see its docstring).

The static table is hpack's (RFC 7541 Appendix A).
"""

from __future__ import annotations

from hpack.huffman_table import HPACKDecodingError, decode_huffman
from hpack.table import HeaderTable

STATIC = HeaderTable.STATIC_TABLE  # 61 (name, value) pairs; index 1 is STATIC[0]
_STATIC_COUNT = len(STATIC)
# A field's size in the table and in a header list: its octets plus 32 (RFC 7541 4.1).
ENTRY_OVERHEAD = 32
_HUFFMAN: dict[bytes, bytes] = {}  # decoded strings by encoded form, for every connection
_HUFFMAN_BYTES = 1 << 20  # what the cache may hold (encoded and decoded), then it starts again
_HUFFMAN_LONGEST = 8192  # longer strings are decoded each time (a huge token, say)
_huffman_held = 0


class DecodeError(Exception):
    """The header block cannot be decoded: a connection error of type COMPRESSION_ERROR."""


class ListTooLarge(DecodeError):
    """The block's fields add up to more than twice the limit: not worth decoding to the end
    (a block of one-octet indexed fields is a million fields a megabyte), so the connection
    ends (ENHANCE_YOUR_CALM) instead of the request getting 431."""


class RequestDecoder:
    """One connection's HPACK decoding context (the dynamic table), for requests' header blocks.

    ``max_table_size`` is the SETTINGS_HEADER_TABLE_SIZE the server advertises (4096, the
    default, which the kernel does not change): the encoder's size updates may not exceed it.
    ``max_header_list_size`` is the advertised SETTINGS_MAX_HEADER_LIST_SIZE: a block whose
    fields add up to more is still decoded whole (the table must stay in step with the
    client's), but :meth:`decode` reports it instead of returning its fields, so the request gets
    431 as Go's server answers it; past twice the limit it raises :class:`ListTooLarge`.
    """

    def __init__(self, max_header_list_size: int, max_table_size: int = 4096) -> None:
        self._table: list[tuple[bytes, bytes]] = []  # newest first: index 62 is _table[0]
        self._size = 0
        self._max_size = max_table_size  # the encoder's current limit (size updates)
        self._max_table_size = max_table_size
        self.max_header_list_size = max_header_list_size

    def decode(self, block: bytes) -> list[tuple[bytes, bytes]] | None:
        """The block's fields in order, or None when they add up to more than the limit."""
        fields: list[tuple[bytes, bytes]] = []
        table = self._table
        size = 0
        limit = self.max_header_list_size
        at, end = 0, len(block)
        while at < end:
            byte = block[at]
            if byte & 0x80:  # 1xxxxxxx: an indexed field (6.1)
                if byte != 0xFF:  # the common case: a one-octet index
                    index = byte & 0x7F
                    at += 1
                else:
                    index, at = _integer(block, at, 7)
                if 0 < index <= _STATIC_COUNT:
                    field = STATIC[index - 1]
                elif _STATIC_COUNT < index <= _STATIC_COUNT + len(table):
                    field = table[index - _STATIC_COUNT - 1]
                else:
                    raise DecodeError(f"invalid table index {index}")
            elif byte & 0x40:  # 01xxxxxx: a literal added to the table (6.2.1)
                field, at = self._literal(block, at, 6)
                self._add(field)
            elif byte & 0x20:  # 001xxxxx: a dynamic table size update (6.3)
                if fields:  # only at the start of a block (4.2)
                    raise DecodeError("table size update after a field")
                new_size, at = _integer(block, at, 5)
                if new_size > self._max_table_size:
                    raise DecodeError(f"table size update to {new_size}, over "
                                      f"{self._max_table_size}")
                self._max_size = new_size
                self._evict(0)
                continue
            else:  # 0000xxxx / 0001xxxx: a literal not added (6.2.2, 6.2.3)
                field, at = self._literal(block, at, 4)
            size += len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
            if size <= limit:
                fields.append(field)
            elif size > 2 * limit:
                raise ListTooLarge(f"a header list of more than {2 * limit} bytes")
        return fields if size <= limit else None

    def _literal(self, block: bytes, at: int, prefix: int) -> tuple[tuple[bytes, bytes], int]:
        index, at = _integer(block, at, prefix)
        if index:
            if index <= _STATIC_COUNT:
                name = STATIC[index - 1][0]
            elif index <= _STATIC_COUNT + len(self._table):
                name = self._table[index - _STATIC_COUNT - 1][0]
            else:
                raise DecodeError(f"invalid table index {index}")
        else:
            name, at = _string(block, at)
        value, at = _string(block, at)
        return (name, value), at

    def _add(self, field: tuple[bytes, bytes]) -> None:
        size = len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
        if size > self._max_size:  # larger than the table: it empties the table (4.4)
            self._table.clear()
            self._size = 0
            return
        self._evict(size)
        self._table.insert(0, field)
        self._size += size

    def _evict(self, room: int) -> None:
        table = self._table
        while self._size + room > self._max_size:
            name, value = table.pop()
            self._size -= len(name) + len(value) + ENTRY_OVERHEAD


def _integer(block: bytes, at: int, prefix: int) -> tuple[int, int]:
    """The integer at ``block[at]`` with a ``prefix``-bit prefix (5.1), and where it ends."""
    mask = (1 << prefix) - 1
    try:
        value = block[at] & mask
        at += 1
        if value < mask:
            return value, at
        shift = 0
        while True:
            byte = block[at]
            at += 1
            value += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value, at
            if shift > 28:  # past 2**31: no field, index or size is that large
                raise DecodeError("integer too large")
    except IndexError:
        raise DecodeError("truncated header block") from None


def _string(block: bytes, at: int) -> tuple[bytes, int]:
    """The string literal at ``block[at]`` (5.2), Huffman-decoded if so marked."""
    if at >= len(block):
        raise DecodeError("truncated header block")
    huffman = block[at] & 0x80
    length, at = _integer(block, at, 7)
    end = at + length
    if end > len(block):
        raise DecodeError("truncated header block")
    raw = block[at:end]
    if not huffman:
        return raw, end
    decoded = _HUFFMAN.get(raw)
    if decoded is None:
        try:
            decoded = decode_huffman(raw)
        except HPACKDecodingError as exc:
            raise DecodeError(f"invalid Huffman code: {exc}") from None
        if length <= _HUFFMAN_LONGEST:
            global _huffman_held
            _huffman_held += length + len(decoded)
            if _huffman_held > _HUFFMAN_BYTES:
                _HUFFMAN.clear()
                _huffman_held = length + len(decoded)
            _HUFFMAN[raw] = decoded
    return decoded, end


# -- responses ------------------------------------------------------------------------------------

# Each full static field's index, and each name's first index (1-based, as on the wire).
_STATIC_FIELDS = {field: i for i, field in enumerate(STATIC, 1)}
_STATIC_NAMES: dict[bytes, int] = {}
for _index, (_name, _) in enumerate(STATIC, 1):
    _STATIC_NAMES.setdefault(_name, _index)
_UNIQUE_VALUES = frozenset({b"audit-id", b"date", b"content-length"})  # not worth keeping
_ENCODED: dict[tuple[bytes, bytes], bytes] = {}  # response fields' encodings, for every connection
_ENCODED_LIMIT = 1024


class ResponseEncoder:
    """HPACK for responses without the dynamic table.

    Each field goes as a static-table index when name and value are in it (``:status: 200``),
    else as a literal without indexing (RFC 7541 6.2.2) that names the static table's entry for
    its name where there is one, without Huffman coding. Without a dynamic table a field's
    encoding is the same on every connection, so the encodings of fields whose values repeat
    (the content type, cache-control, the priority-and-fairness uids) are kept for all. The
    first block sets the dynamic table's size to 0 (6.3): the client's decoder table is never
    written, so no later SETTINGS_HEADER_TABLE_SIZE needs another update."""

    __slots__ = ("_first",)

    def __init__(self) -> None:
        self._first = True

    def encode(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        cache = _ENCODED
        out = [b"\x20"] if self._first else []  # dynamic table size update: 0
        self._first = False
        for field in headers:
            encoded = cache.get(field)
            if encoded is None:
                encoded = _encode_field(*field)
                if field[0] not in _UNIQUE_VALUES and len(cache) < _ENCODED_LIMIT:
                    cache[field] = encoded
            out.append(encoded)
        return b"".join(out)


def encode_integer(value: int, prefix: int) -> bytearray:
    """``value`` with a ``prefix``-bit prefix (5.1); the caller sets the first octet's high bits."""
    mask = (1 << prefix) - 1
    if value < mask:
        return bytearray((value,))
    out = bytearray((mask,))
    value -= mask
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return out


def _encode_field(name: bytes, value: bytes) -> bytes:
    index = _STATIC_FIELDS.get((name, value))
    if index is not None:  # 1xxxxxxx: an indexed field (6.1)
        indexed = encode_integer(index, 7)
        indexed[0] |= 0x80
        return bytes(indexed)
    name_index = _STATIC_NAMES.get(name, 0)
    field = encode_integer(name_index, 4)  # 0000xxxx: a literal without indexing (6.2.2)
    if not name_index:
        field += encode_integer(len(name), 7) + name  # string literals: H=0, no Huffman
    return bytes(field + encode_integer(len(value), 7) + value)
