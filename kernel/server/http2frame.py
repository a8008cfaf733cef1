"""HTTP/2 frames (RFC 9113 section 4 and 6): the frame header, the frames a server writes, and
the errors that end a stream or the connection.

What a server reads is parsed where it is handled (:mod:`kernel.server.http2`); a frame's header
is one ``struct`` unpack and its payload a slice, which is all a server needs (hyperframe builds
an object with a flags set for each frame, about a tenth of a small GET's HTTP/2 cost here).
"""

from __future__ import annotations

import enum
import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADER = struct.Struct(">HBBBL")  # length (24 bits as 16 + 8), type, flags, stream id (with R)
HEADER_SIZE = HEADER.size
_U32 = struct.Struct(">L")
_SETTING = struct.Struct(">HL")
MAX_WINDOW = 2**31 - 1
DEFAULT_WINDOW = 65535
DEFAULT_MAX_FRAME_SIZE = 16384
MAX_FRAME_SIZE_LIMIT = 2**24 - 1


class FrameType(enum.IntEnum):
    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9


# Flags (6.1-6.10); each meaning depends on the frame's type.
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20


class Setting(enum.IntEnum):
    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6


class ErrorCode(enum.IntEnum):
    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


class GoAway(Exception):
    """A connection error (5.4.1): the connection ends with GOAWAY carrying ``code``."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class ResetStream(Exception):
    """A stream error (5.4.2): the stream ends with RST_STREAM carrying ``code``; the
    connection goes on."""

    def __init__(self, stream_id: int, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.stream_id = stream_id
        self.code = code


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    size = len(payload)
    return HEADER.pack(size >> 8, size & 0xFF, kind, flags, stream_id) + payload


def settings(values: dict[Setting, int]) -> bytes:
    return frame(FrameType.SETTINGS, 0, 0,
                 b"".join(_SETTING.pack(code, value) for code, value in values.items()))


def parse_settings(payload: bytes) -> list[tuple[int, int]]:
    return [_SETTING.unpack_from(payload, at) for at in range(0, len(payload), _SETTING.size)]


def window_update(stream_id: int, increment: int) -> bytes:
    return frame(FrameType.WINDOW_UPDATE, 0, stream_id, _U32.pack(increment))


def rst_stream(stream_id: int, code: ErrorCode) -> bytes:
    return frame(FrameType.RST_STREAM, 0, stream_id, _U32.pack(code))


def goaway(last_stream_id: int, code: ErrorCode, debug: bytes = b"") -> bytes:
    return frame(FrameType.GOAWAY, 0, 0, _U32.pack(last_stream_id) + _U32.pack(code) + debug)


def u32(payload: bytes) -> int:
    """The payload's first four octets, the reserved bit cleared (a window increment, an error
    code's stream, a GOAWAY's last stream)."""
    return _U32.unpack_from(payload)[0] & MAX_WINDOW


def error_code(payload: bytes, at: int = 0) -> int:
    return _U32.unpack_from(payload, at)[0]


def headers(stream_id: int, block: bytes, end_stream: bool, max_frame_size: int) -> bytes:
    """HEADERS, and CONTINUATION frames for a block larger than the peer's frame size."""
    flags = END_STREAM if end_stream else 0
    if len(block) <= max_frame_size:
        return frame(FrameType.HEADERS, flags | END_HEADERS, stream_id, block)
    pieces = [block[at:at + max_frame_size] for at in range(0, len(block), max_frame_size)]
    out = [frame(FrameType.HEADERS, flags, stream_id, pieces[0])]
    out += [frame(FrameType.CONTINUATION, 0, stream_id, piece) for piece in pieces[1:-1]]
    out.append(frame(FrameType.CONTINUATION, END_HEADERS, stream_id, pieces[-1]))
    return b"".join(out)
