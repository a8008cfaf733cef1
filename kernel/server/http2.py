"""HTTP/2 connections (RFC 9113), server side: frames read and written here, each request handed
to the ASGI app directly, with kube's limits and the graceful GOAWAY of Go's x/net/http2.

Used by :class:`kernel.server.httpserver.PeerCertTCPServer` for every connection that negotiated
``h2`` by ALPN (what kubectl, client-go and every informer speak). It was built on h2's state
machine; h2 checked and accounted each frame through layers of objects and events, and with
hpack's coding that was 100 µs of a small GET (bench/README.md), a GET costing twice its
HTTP/1.1 CPU. A server's side of the protocol is small enough to keep here: frames are parsed
with one unpack (:mod:`kernel.server.http2frame`), header blocks are coded by
:mod:`kernel.server.hpackcodec`, and the stream states, flow control and errors below are the
RFC's, as Go's server applies them:

- Settings: kube's stream limit, header-list limit, frame size and windows (256 KiB per stream;
  the connection's window that times the stream limit: Go's MaxUploadBufferPerConnection). The
  client's settings are applied and acknowledged; its first frame must be SETTINGS.
- Requests: the app starts once a stream's headers arrive; its body reaches the app as DATA
  frames come, and their flow-control credit is returned as the app reads them (a client can
  have no more unread body in the server than its windows allow). Request headers are checked
  as RFC 9113 8.2 and 8.3 say (lowercase names, no NUL/CR/LF or surrounding whitespace in
  values, no connection-specific fields, pseudo-headers first, once each, and the required
  ones, ``:path`` starting with ``/``): a malformed request's stream is reset (PROTOCOL_ERROR). A request without ``:path``
  (a plain CONNECT), or whose path or method is not ASCII, gets 400; one whose header list is
  over the limit gets 431, as from Go (far over it, or a header block in CONTINUATION frames
  longer than the limit allows, ends the connection: ENHANCE_YOUR_CALM).
- Responses: a response with a Content-Length leaves with its HEADERS, its DATA and its
  END_STREAM in one write (one TLS record when small); a streamed one's HEADERS are sent at once
  (a watch's client sees them before the first event), each body part as it comes. Sending waits
  for the peer's flow-control windows. Header names and values are checked as for HTTP/1.1 (no
  response splitting through HPACK literals) and connection-specific ones dropped; a body longer
  or shorter than its Content-Length resets the stream (INTERNAL_ERROR).
- A stream the client resets, or a connection that ends, ends its requests: the app's
  ``receive`` says ``http.disconnect`` and what it still sends is dropped (a watch whose client
  was killed returns at its next event instead of waiting forever).
- GOAWAY (NO_ERROR, naming the highest stream received: those are answered, later ones ignored
  so the client retries them elsewhere) for a response with ``Connection: close`` (kube's
  --shutdown-send-retry-after), a request sampled by --goaway-chance, a GOAWAY from the client,
  an idle connection and shutdown. It goes out once no response is being sent: the h2 library
  (httpx) fails a stream whose frames follow a GOAWAY.
- A connection error (a frame that breaks the protocol, an undecodable header block, windows
  overrun) sends GOAWAY with its code and closes the connection; a stream error resets only its
  stream. Frames for streams already closed are ignored (their data's credit returned), as the
  RFC allows after a reset.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import trio
from hypercorn.events import Closed, Event, RawData, Updated

from kernel.server import tlswrite
from kernel.server.exchange import Exchange
from kernel.server.hpackcodec import DecodeError, ListTooLarge, RequestDecoder, ResponseEncoder
from kernel.server.http1 import BODY_WRITER, Connection, check_response_header, http_date
from kernel.server.http2frame import (
    ACK, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, END_HEADERS, END_STREAM, HEADER, HEADER_SIZE,
    MAX_FRAME_SIZE_LIMIT, MAX_WINDOW, PADDED, PREFACE, PRIORITY_FLAG, ErrorCode, FrameType, GoAway,
    ResetStream, Setting, error_code, frame, goaway, headers as headers_frames, parse_settings,
    rst_stream, settings, u32, window_update)

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

log = logging.getLogger("hypercorn.error")  # where app crashes were logged: the same log

_ASGI = {"spec_version": "2.3", "version": "3.0"}
# RFC 9113 8.2.2: fields that mean something only to an HTTP/1.1 connection.
_CONNECTION_SPECIFIC = frozenset({b"connection", b"keep-alive", b"proxy-connection",
                                  b"transfer-encoding", b"upgrade"})
_NO_BODY_STATUS = frozenset({204, 304})
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}
_REQUEST_PSEUDO = frozenset({b":method", b":scheme", b":authority", b":path"})
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+\Z")  # a lowercase token (8.2.1)
_BAD_VALUE = re.compile(rb"[\0\r\n]|\A[ \t]|[ \t]\Z")  # 8.2.1
_CHECKED: set[tuple[bytes, bytes]] = set()  # request fields found valid, for every connection
_CHECKED_LIMIT = 4096
_DATA, _HEADERS, _SETTINGS, _WINDOW_UPDATE = (FrameType.DATA, FrameType.HEADERS,
                                              FrameType.SETTINGS, FrameType.WINDOW_UPDATE)


class _Stream(Exchange):
    """One request and its response, with the stream's flow-control state."""

    __slots__ = ("protocol", "stream_id", "unacked", "owed", "window", "headers", "length", "sent",
                 "no_body", "recv_window", "send_window", "remote_closed", "sending")

    def __init__(self, protocol: HTTP2Protocol, stream_id: int, scope: dict[str, Any],
                 recv_window: int, send_window: int) -> None:
        super().__init__(scope)
        self.protocol = protocol
        self.stream_id = stream_id
        self.unacked = 0  # flow-controlled bytes received and not yet read by the app
        self.owed = 0  # read and not yet given back (a WINDOW_UPDATE goes once it is worth it)
        self.recv_window = recv_window  # what the client may still send
        self.send_window = send_window  # what the server may still send
        self.remote_closed = False  # the client's END_STREAM came
        self.window: trio.Event | None = None  # a send waiting for flow-control credit
        self.headers: list[tuple[bytes, bytes]] | None = None  # held for the body (a length)
        self.length: int | None = None
        self.sent = 0
        self.no_body = scope["method"] == "HEAD"
        self.sending = False  # a body is being sent by an await (write_now must not overtake it)

    def wake(self) -> None:
        super().wake()
        self.wake_sender()

    def wake_sender(self) -> None:
        if self.window is not None:
            self.window.set()
            self.window = None

    def end(self, disconnected: bool = False) -> None:
        self.complete = True
        self.disconnected = self.disconnected or disconnected
        self.scope["extensions"].pop(BODY_WRITER, None)  # its bound method made a reference cycle
        self.wake()

    def body_writer(self) -> _StreamWriter | None:
        """The scope's BODY_WRITER: for a started streamed body (a watch), a writer of DATA
        frames straight to the connection."""
        if self.started and self.length is None and not self.no_body and not self.complete:
            return _StreamWriter(self)
        return None

    async def _taken(self) -> None:
        await self.protocol.acknowledge(self)

    async def _start(self, status: int, headers: Any) -> None:
        await self.protocol.start_response(self, status, headers)

    async def _body(self, body: bytes, more: bool) -> None:
        await self.protocol.send_body(self, body, more)


class _StreamWriter:
    """Writes a streamed response's body as DATA frames. Awaiting it sends one part as an ASGI
    body message would (waiting for flow-control credit); :meth:`write_now` writes one without
    awaiting, for the watch cache's dispatch, or declines (see ``ChunkWriter`` of
    :mod:`kernel.server.http1`, HTTP/1.1's). Every informer watches over HTTP/2: through ASGI
    each event for each watcher was a wake-up of the watch's task and an await per send."""

    __slots__ = ("stream",)

    def __init__(self, stream: _Stream) -> None:
        self.stream = stream

    async def __call__(self, data: bytes) -> None:
        stream = self.stream
        if not data or stream.complete:
            await trio.lowlevel.checkpoint()
            return
        await stream.protocol.send_body(stream, data, True)

    def write_now(self, data: bytes) -> bool:
        return self.stream.protocol.write_now(self.stream, data)


class HTTP2Protocol:
    """One HTTP/2 connection's streams, in Hypercorn's protocol interface (``initiate``,
    ``handle`` of its events; ``send`` of ``Updated`` and ``Closed`` to the connection)."""

    def __init__(self, app: ASGIApp, connection: Connection, *, tls: dict[str, Any] | None,
                 client: Any, server: Any, send: Callable[[Event], Awaitable[None]],
                 max_concurrent_streams: int, max_header_list_size: int, frame_and_window: int,
                 goaway_chance: float = 0.0) -> None:
        self.app = app
        self.connection = connection
        self.send = send
        self._tls = tls
        self._scheme = "https" if tls is not None else "http"
        self._client = client
        self._server = server
        self._goaway_chance = goaway_chance
        self._streams_limit = max_concurrent_streams
        self._max_header_list_size = max_header_list_size
        # What the server advertises: its frame size and each stream's window are the same.
        self._max_frame_size = self._stream_window = frame_and_window
        self._decoder = RequestDecoder(max_header_list_size)
        self._encoder = ResponseEncoder()
        self._buffer = b""  # input not yet parsed (a frame's start)
        self._preface = False  # the client's connection preface has arrived
        self._settings_seen = False  # its first SETTINGS has
        self._settings_acked = False  # it acknowledged the server's
        # A header block still in CONTINUATION frames: stream, HEADERS flags, self-dependent,
        # fragments.
        self._continuation: tuple[int, int, bool, list[bytes]] | None = None
        self._continuation_size = 0
        self._peer_window = DEFAULT_WINDOW  # the client's SETTINGS_INITIAL_WINDOW_SIZE
        self._peer_frame_size = DEFAULT_MAX_FRAME_SIZE
        self._send_window = DEFAULT_WINDOW  # the connection's, for responses
        # The connection's window: the stream window times the stream limit (see initiate).
        self._connection_window = self._recv_window = frame_and_window * max_concurrent_streams
        self._owed = 0  # body the apps read whose connection credit is not yet given back
        self._highest = 0  # the highest stream the client opened
        self._open: dict[int, _Stream] = {}  # streams not closed (either side still open)
        self.streams: dict[int, _Stream] = {}  # the streams whose responses are not over
        self._out: list[bytes] = []  # frames to write at the next flush
        self._arrived: list[tuple[_Stream, int]] = []  # requests read, to start (status: error)
        self._busy = False  # what the connection was last told (Updated)
        self._peer_went_away = False
        self.closed = False
        self.go_away_requested = False
        self.last_stream_id: int | None = None  # set once GOAWAY is sent
        self.goaway_sent = trio.Event()

    async def initiate(self) -> None:
        self._out.append(settings({
            Setting.MAX_CONCURRENT_STREAMS: self._streams_limit,
            Setting.MAX_HEADER_LIST_SIZE: self._max_header_list_size,
            Setting.MAX_FRAME_SIZE: self._max_frame_size,
            Setting.INITIAL_WINDOW_SIZE: self._stream_window,
        }))
        self._out.append(window_update(0, self._recv_window - DEFAULT_WINDOW))
        await self._flush()

    # -- reading --------------------------------------------------------------------------------

    async def handle(self, event: Event) -> None:
        if isinstance(event, RawData):
            if not event.data or self.closed:
                return  # the input ended (Closed follows), or the connection failed
            try:
                self._receive(event.data)
            except GoAway as error:
                await self._fail(error)
                return
            await self._after_read()
        elif isinstance(event, Closed):
            self._connection_lost()

    def _receive(self, data: bytes) -> None:
        """Handle every whole frame in what has arrived; keep the rest for the next read."""
        buffer = self._buffer + data if self._buffer else data
        at = 0
        if not self._preface:
            if len(buffer) < len(PREFACE):
                if not PREFACE.startswith(buffer):
                    raise GoAway(ErrorCode.PROTOCOL_ERROR, "invalid connection preface")
                self._buffer = buffer
                return
            if not buffer.startswith(PREFACE):
                raise GoAway(ErrorCode.PROTOCOL_ERROR, "invalid connection preface")
            self._preface = True
            at = len(PREFACE)
        end = len(buffer)
        unpack = HEADER.unpack_from
        while end - at >= HEADER_SIZE:
            high, low, kind, flags, stream_id = unpack(buffer, at)
            length = high << 8 | low
            if length > self._max_frame_size:
                raise GoAway(ErrorCode.FRAME_SIZE_ERROR, f"a frame of {length} bytes")
            start = at + HEADER_SIZE
            if end - start < length:
                break
            at = start + length
            try:
                self._frame(kind, flags, stream_id & MAX_WINDOW, buffer[start:at])
            except ResetStream as error:
                self._out.append(rst_stream(error.stream_id, error.code))
                stream = self._open.get(error.stream_id)
                if stream is not None:
                    self._close(stream)
        self._buffer = buffer[at:]

    def _frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if self._continuation is not None and kind != FrameType.CONTINUATION:
            raise GoAway(ErrorCode.PROTOCOL_ERROR, "a header block's CONTINUATION expected")
        if not self._settings_seen and (kind != _SETTINGS or flags & ACK):
            raise GoAway(ErrorCode.PROTOCOL_ERROR, "the client's first frame is not SETTINGS")
        if kind == _HEADERS:
            self._on_headers(flags, stream_id, payload)
        elif kind == _DATA:
            self._on_data(flags, stream_id, payload)
        elif kind == _WINDOW_UPDATE:
            self._on_window_update(stream_id, payload)
        elif kind == _SETTINGS:
            self._on_settings(flags, stream_id, payload)
        elif kind == FrameType.RST_STREAM:
            self._on_rst_stream(stream_id, payload)
        elif kind == FrameType.PING:
            if len(payload) != 8:
                raise GoAway(ErrorCode.FRAME_SIZE_ERROR, "PING of other than 8 bytes")
            if stream_id:
                raise GoAway(ErrorCode.PROTOCOL_ERROR, "PING on a stream")
            if not flags & ACK:
                self._out.append(frame(FrameType.PING, ACK, 0, payload))
        elif kind == FrameType.PRIORITY:  # priorities are not used (as Go's server since 1.22)
            if not stream_id:
                raise GoAway(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0")
            if len(payload) != 5:
                raise GoAway(ErrorCode.FRAME_SIZE_ERROR, "PRIORITY of other than 5 bytes")
            if u32(payload) == stream_id:
                raise ResetStream(stream_id, ErrorCode.PROTOCOL_ERROR, "a stream depending on itself")
        elif kind == FrameType.GOAWAY:
            if stream_id:
                raise GoAway(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream")
            if len(payload) < 8:
                raise GoAway(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY shorter than 8 bytes")
            self._peer_went_away = True  # no more streams come: the connection ends after these
            if error_code(payload, 4) != ErrorCode.NO_ERROR:
                log.debug("HTTP/2 client went away with error %d", error_code(payload, 4))
        elif kind == FrameType.CONTINUATION:
            self._on_continuation(flags, stream_id, payload)
        elif kind == FrameType.PUSH_PROMISE:
            raise GoAway(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE from a client")
        # Frames of other types are ignored (5.5).

    def _on_settings(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise GoAway(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & ACK:
            if payload:
                raise GoAway(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS acknowledgement with a payload")
            self._settings_acked = True
            return
        if len(payload) % 6:
            raise GoAway(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS not a multiple of 6 bytes")
        self._settings_seen = True
        for code, value in parse_settings(payload):
            if code == Setting.INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise GoAway(ErrorCode.FLOW_CONTROL_ERROR, "initial window over 2^31-1")
                delta, self._peer_window = value - self._peer_window, value
                for stream in self._open.values():  # 6.9.2: open streams' windows move too
                    stream.send_window += delta
                    if stream.send_window > MAX_WINDOW:
                        raise GoAway(ErrorCode.FLOW_CONTROL_ERROR, "a stream window over 2^31-1")
                if delta > 0:
                    self._wake_senders()
            elif code == Setting.MAX_FRAME_SIZE:
                if not DEFAULT_MAX_FRAME_SIZE <= value <= MAX_FRAME_SIZE_LIMIT:
                    raise GoAway(ErrorCode.PROTOCOL_ERROR, f"SETTINGS_MAX_FRAME_SIZE {value}")
                self._peer_frame_size = value
            elif code == Setting.ENABLE_PUSH and value > 1:
                raise GoAway(ErrorCode.PROTOCOL_ERROR, f"SETTINGS_ENABLE_PUSH {value}")
            # HEADER_TABLE_SIZE: responses never use the table (ResponseEncoder); the rest are
            # limits on what a server does not send (pushes) or advice.
        self._out.append(frame(_SETTINGS, ACK, 0))

    def _on_headers(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id & 1:  # stream 0, or one a client may not open
            raise GoAway(ErrorCode.PROTOCOL_ERROR, f"HEADERS on stream {stream_id}")
        block = _unpadded(flags, payload)
        self_dependent = False
        if flags & PRIORITY_FLAG:
            if len(block) < 5:
                raise GoAway(ErrorCode.FRAME_SIZE_ERROR, "HEADERS too short for its priority")
            self_dependent = u32(block) == stream_id
            block = block[5:]
        if flags & END_HEADERS:
            self._headers(stream_id, flags, self_dependent, block)
        else:
            self._continuation = (stream_id, flags, self_dependent, [block])
            self._continuation_size = len(block)

    def _on_continuation(self, flags: int, stream_id: int, payload: bytes) -> None:
        if self._continuation is None or stream_id != self._continuation[0]:
            raise GoAway(ErrorCode.PROTOCOL_ERROR, "CONTINUATION without its HEADERS")
        _, header_flags, self_dependent, fragments = self._continuation
        fragments.append(payload)
        self._continuation_size += len(payload)
        # Clients Huffman-code a string only when that is shorter, so a block is about its
        # list's size at most: past that (and a margin) it is a flood of CONTINUATION frames
        # (CVE-2024-27316), and the connection ends.
        if self._continuation_size > self._max_header_list_size + 65536:
            raise GoAway(ErrorCode.ENHANCE_YOUR_CALM, "header block too large")
        if flags & END_HEADERS:
            self._continuation = None
            self._headers(stream_id, header_flags, self_dependent, b"".join(fragments))

    def _headers(self, stream_id: int, flags: int, self_dependent: bool, block: bytes) -> None:
        end_stream = bool(flags & END_STREAM)
        stream = self._open.get(stream_id)
        if stream is None and stream_id <= self._highest:
            if self.last_stream_id is None or stream_id <= self.last_stream_id:
                raise GoAway(ErrorCode.PROTOCOL_ERROR, f"HEADERS on closed stream {stream_id}")
        fields = self._decode(block)  # always: the decoder's table follows every block
        if stream is not None:  # trailers, which an ASGI request does not carry
            if stream.remote_closed:
                raise ResetStream(stream_id, ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM")
            if not end_stream or fields is None or not all(
                    name[:1] != b":" and _valid(name, value) for name, value in fields):
                raise ResetStream(stream_id, ErrorCode.PROTOCOL_ERROR, "malformed trailers")
            self._remote_end(stream)
            return
        if stream_id <= self._highest:
            return  # a stream ignored after GOAWAY
        self._highest = stream_id
        if self.last_stream_id is not None:
            # After GOAWAY: ignored, as Go does. The GOAWAY, which the client reads first, tells
            # it this stream was not processed, so it retries it on another connection (an
            # RST_STREAM would make the h2 library, hence httpx, fail the whole connection).
            return
        if self_dependent:
            raise ResetStream(stream_id, ErrorCode.PROTOCOL_ERROR, "a stream depending on itself")
        if len(self._open) >= self._streams_limit:  # as Go: refused until its SETTINGS are known
            raise ResetStream(stream_id, ErrorCode.PROTOCOL_ERROR if self._settings_acked
                              else ErrorCode.REFUSED_STREAM, "over the stream limit")
        self._request(stream_id, fields, end_stream)

    def _decode(self, block: bytes) -> list[tuple[bytes, bytes]] | None:
        try:
            return self._decoder.decode(block)
        except ListTooLarge as exc:
            raise GoAway(ErrorCode.ENHANCE_YOUR_CALM, str(exc)) from None
        except DecodeError as exc:
            raise GoAway(ErrorCode.COMPRESSION_ERROR, str(exc)) from None

    def _request(self, stream_id: int, fields: list[tuple[bytes, bytes]] | None,
                 end_stream: bool) -> None:
        """A request's header list arrived: its stream opens and its app is to start."""
        method = path = authority = scheme = None
        host = b""
        cookies: list[bytes] = []
        headers: list[tuple[bytes, bytes]] = [(b"host", b"")]  # kept first, as Hypercorn did
        regular = False
        for field in fields or ():
            name, value = field
            if field not in _CHECKED and not _valid(name, value):
                raise ResetStream(stream_id, ErrorCode.PROTOCOL_ERROR, "malformed header field")
            if name[:1] == b":":
                if regular:
                    raise ResetStream(stream_id, ErrorCode.PROTOCOL_ERROR,
                                      "pseudo-header after a regular field")
                if name == b":method" and method is None:
                    method = value
                elif name == b":path" and path is None:
                    path = value
                elif name == b":authority" and authority is None:
                    authority = value
                elif name == b":scheme" and scheme is None:
                    scheme = value
                else:
                    raise ResetStream(stream_id, ErrorCode.PROTOCOL_ERROR, "repeated pseudo-header")
                continue
            regular = True
            if name == b"host":
                host = value
            elif name == b"cookie":  # 8.2.3: one field again for the app
                cookies.append(value)
            else:
                headers.append(field)
        status = 0
        if fields is None:
            status = 431  # over the header list limit (decoded, not kept)
        elif method is None or (method != b"CONNECT" and (scheme is None or not path)):
            raise ResetStream(stream_id, ErrorCode.PROTOCOL_ERROR, "missing pseudo-headers")
        elif path and path[:1] != b"/" and not (path == b"*" and method == b"OPTIONS"):
            # 8.3.1: an origin-form path (or OPTIONS' asterisk), as Go's server requires.
            raise ResetStream(stream_id, ErrorCode.PROTOCOL_ERROR, ":path not starting with /")
        if cookies:
            headers.append((b"cookie", b"; ".join(cookies)))
        headers[0] = (b"host", authority if authority is not None else host)
        raw_path, _, query = (path or b"").partition(b"?")
        # A path or method that is not ASCII is a 400 (it raised in Hypercorn's stream, which
        # ended the whole server).
        try:
            decoded = unquote(raw_path.decode("ascii")) if path else None
            verb = _METHODS.get(method or b"") or (method or b"").decode("ascii")
        except UnicodeDecodeError:
            decoded = verb = None
        if not status and (decoded is None or not verb):
            status = 400
        extensions: dict[str, Any] = {"tls": self._tls} if self._tls is not None else {}
        scope: dict[str, Any] = {
            "type": "http", "asgi": _ASGI, "http_version": "2", "method": verb or "GET",
            "scheme": self._scheme,
            "path": decoded or "/", "raw_path": raw_path, "query_string": query, "root_path": "",
            "headers": headers, "client": self._client, "server": self._server,
            "extensions": extensions,
        }
        stream = _Stream(self, stream_id, scope, self._stream_window, self._peer_window)
        extensions[BODY_WRITER] = stream.body_writer
        self._open[stream_id] = self.streams[stream_id] = stream
        if end_stream:
            stream.remote_closed = stream.body_complete = True
        self._arrived.append((stream, status))

    def _on_data(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise GoAway(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0")
        size = len(payload)  # all of it counts against the windows, padding too (6.9.1)
        data = _unpadded(flags, payload)
        self._recv_window -= size
        if self._recv_window < 0:
            raise GoAway(ErrorCode.FLOW_CONTROL_ERROR, "the connection's window overrun")
        stream = self._open.get(stream_id)
        if stream is None or stream.remote_closed:
            if stream_id > self._highest:
                raise GoAway(ErrorCode.PROTOCOL_ERROR, f"DATA on idle stream {stream_id}")
            self._release(None, size)
            if stream is not None:
                raise ResetStream(stream_id, ErrorCode.STREAM_CLOSED, "DATA after END_STREAM")
            return  # a closed stream (answered and reset, or ignored after GOAWAY): dropped
        stream.recv_window -= size
        if stream.recv_window < 0:
            self._release(None, size)
            raise ResetStream(stream_id, ErrorCode.FLOW_CONTROL_ERROR, "the stream's window overrun")
        if stream.complete or not data:
            # Answered already (a 413) while the body still comes: dropped, as is padding; the
            # client may send as much again.
            if size:
                self._release(stream, size)
        else:
            stream.chunks.append(data)
            stream.unacked += size
            if stream.waiter is not None:
                stream.waiter.set()
                stream.waiter = None
        if flags & END_STREAM:
            self._remote_end(stream)

    def _on_window_update(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise GoAway(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE of other than 4 bytes")
        increment = u32(payload)
        if not stream_id:
            if not increment:
                raise GoAway(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            self._send_window += increment
            if self._send_window > MAX_WINDOW:
                raise GoAway(ErrorCode.FLOW_CONTROL_ERROR, "the connection's window over 2^31-1")
            self._wake_senders()
            return
        stream = self._open.get(stream_id)
        if stream is None:
            if stream_id > self._highest:
                raise GoAway(ErrorCode.PROTOCOL_ERROR, f"WINDOW_UPDATE on idle stream {stream_id}")
            return  # closed
        if not increment:
            raise ResetStream(stream_id, ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
        stream.send_window += increment
        if stream.send_window > MAX_WINDOW:
            raise ResetStream(stream_id, ErrorCode.FLOW_CONTROL_ERROR, "window over 2^31-1")
        stream.wake_sender()

    def _on_rst_stream(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise GoAway(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM of other than 4 bytes")
        if not stream_id:
            raise GoAway(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0")
        stream = self._open.get(stream_id)
        if stream is not None:
            self._close(stream)
        elif stream_id > self._highest:
            raise GoAway(ErrorCode.PROTOCOL_ERROR, f"RST_STREAM on idle stream {stream_id}")

    def _remote_end(self, stream: _Stream) -> None:
        """The client's END_STREAM: its body is complete."""
        stream.remote_closed = stream.body_complete = True
        stream.wake()
        if stream.complete:  # the response too: the stream is closed
            self._open.pop(stream.stream_id, None)

    def _close(self, stream: _Stream) -> None:
        """The stream is reset (by either side): its request ends as a disconnect."""
        self._open.pop(stream.stream_id, None)
        self.streams.pop(stream.stream_id, None)
        stream.remote_closed = True
        stream.end(disconnected=True)
        if stream.unacked:  # the connection's credit for its unread body
            self._release(None, stream.unacked)
            stream.unacked = 0

    async def _after_read(self) -> None:
        arrived, self._arrived = self._arrived, []
        await self._settle()
        for stream, status in arrived:
            if status:
                await self._error_response(stream, status)
            else:
                self.connection.spawn(self._run, stream)
        await self._flush()  # SETTINGS and PING acknowledgements, credit, resets
        if self._peer_went_away and not self.go_away_requested:
            await self.request_go_away()

    def _release(self, stream: _Stream | None, size: int) -> None:
        """``size`` bytes of body were read (or dropped): the client may send as much again.
        Credit goes back once the client has used half a window (as h2 and Go do): a small body
        costs no WINDOW_UPDATE."""
        if not size:
            return
        self._owed += size
        if self._recv_window <= self._connection_window // 2:
            self._out.append(window_update(0, self._owed))
            self._recv_window += self._owed
            self._owed = 0
        if stream is not None and not stream.remote_closed:
            stream.owed += size
            if stream.recv_window <= self._stream_window // 2:
                self._out.append(window_update(stream.stream_id, stream.owed))
                stream.recv_window += stream.owed
                stream.owed = 0

    def _wake_senders(self) -> None:
        for stream in self.streams.values():
            stream.wake_sender()

    def _connection_lost(self) -> None:
        self.closed = True
        streams, self._open, self.streams = self._open, {}, {}
        for stream in streams.values():
            stream.end(disconnected=True)

    async def _fail(self, error: GoAway) -> None:
        """A connection error: GOAWAY with its code, then the connection closes."""
        log.debug("HTTP/2 connection error: %s", error)
        self._out.append(goaway(self._highest, error.code, str(error).encode()))
        await self._flush()
        self._connection_lost()
        await self.send(Closed())

    # -- the app and its responses -------------------------------------------------------------

    async def _run(self, stream: _Stream) -> None:
        crashed = False
        try:
            await self.app(stream.scope, stream.receive, stream.send)
        except trio.Cancelled:
            raise
        except Exception:
            log.exception("Error in ASGI Framework")
            crashed = True
        if stream.complete:
            return
        if not stream.started:
            await self._error_response(stream, 500)
            return
        if crashed:  # a response cut short: only a reset tells the client (Go's way)
            await self._reset(stream)
            return
        try:
            await self.send_body(stream, b"", False)  # the app returned: the response ends
        except RuntimeError:
            pass  # short of its Content-Length: the stream was reset

    async def start_response(self, stream: _Stream, status: int, headers: Any) -> None:
        out = [(b":status", b"%d" % status)]
        length = None
        has_date = close = False
        for name, value in headers:
            name = bytes(name).lower()
            value = bytes(value).strip()
            check_response_header(name, value)  # raises: the response has not started
            if name in _CONNECTION_SPECIFIC:
                close = close or (name == b"connection" and b"close" in value.lower())
                continue
            if name == b"content-length":
                length = int(value)
            elif name == b"date":
                has_date = True
            out.append((name, value))
        if not has_date:
            out.append((b"date", http_date()))
        stream.started = True
        stream.length = length
        if status in _NO_BODY_STATUS:
            stream.no_body = True
        if close or (self._goaway_chance > 0 and random.random() < self._goaway_chance):
            # kube's WithProbabilisticGoaway samples HTTP/2 requests; Connection: close is how
            # its handlers ask for the connection to end. Sent after this stream's END_STREAM.
            await self.request_go_away()
        if length is None and not stream.no_body:
            if not (stream.complete or self.closed):
                self._out.append(headers_frames(stream.stream_id, self._encoder.encode(out),
                                                False, self._peer_frame_size))
                await self._flush()  # a streamed body: its client waits for the headers
        else:
            stream.headers = out  # they leave with the body

    async def send_body(self, stream: _Stream, body: bytes, more: bool) -> None:
        if stream.no_body:
            body = b""
        elif stream.length is not None:
            stream.sent += len(body)
            if stream.sent > stream.length or (not more and stream.sent != stream.length):
                await self._reset(stream)
                raise RuntimeError(f"response body of {stream.sent} bytes, "
                                   f"Content-Length {stream.length}")
        if stream.complete or self.closed:
            return  # reset meanwhile
        stream_id, out = stream.stream_id, self._out
        headers, stream.headers = stream.headers, None
        if headers is not None:
            end = not more and not body
            out.append(headers_frames(stream_id, self._encoder.encode(headers), end,
                                      self._peer_frame_size))
            if end:
                await self._end(stream)
                return
        at, size = 0, len(body)
        stream.sending = True
        try:
            while at < size:
                window = min(stream.send_window, self._send_window)
                if window <= 0:
                    await self._flush()
                    if not await self._wait_window(stream):
                        return
                    continue
                n = min(window, self._peer_frame_size, size - at)
                end = not more and at + n == size
                out.append(frame(_DATA, END_STREAM if end else 0, stream_id,
                                 body if n == size else body[at:at + n]))
                stream.send_window -= n
                self._send_window -= n
                at += n
        finally:
            stream.sending = False
        if more:
            await self._flush()
            return
        if not size:
            out.append(frame(_DATA, END_STREAM, stream_id))
        await self._end(stream)

    def write_now(self, stream: _Stream, data: bytes) -> bool:
        """``data`` as DATA frames of ``stream``'s streamed body (one, or as many as the client's
        frame size needs: the watch cache hands over all the events due at once), written in one
        write without an ``await``: True when written (what the socket did not take follows from
        a task of the connection's own), False when nothing was: frames are queued or being
        sent, the windows do not allow it, or the stream is over (await the writer instead)."""
        size, direct = len(data), self.connection.direct
        if (direct is None or not size or stream.sending or stream.complete or self.closed
                or self._out or size > stream.send_window or size > self._send_window):
            return False
        stream_id, most = stream.stream_id, self._peer_frame_size
        if size <= most:
            frames = HEADER.pack(size >> 8, size & 0xFF, _DATA, 0, stream_id) + data
        else:
            frames = b"".join(frame(_DATA, 0, stream_id, data[at:at + most])
                              for at in range(0, size, most))
        wrote = direct.write_now(frames)
        if wrote is tlswrite.Wrote.NOTHING:
            return False
        stream.send_window -= size
        self._send_window -= size
        if wrote is tlswrite.Wrote.QUEUED:
            self.connection.spawn(self._flush_queued)
        return True

    async def _flush_queued(self) -> None:
        try:
            await tlswrite.flush(self.connection.stream, self.connection.send_lock)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await self.connection.connection_broken()

    async def _wait_window(self, stream: _Stream) -> bool:
        """Wait for flow-control credit; False if the stream or the connection ended."""
        if stream.complete or self.closed:
            return False
        if min(stream.send_window, self._send_window) <= 0:
            stream.window = trio.Event()
            await stream.window.wait()
        return not stream.complete and not self.closed

    async def _error_response(self, stream: _Stream, status: int) -> None:
        """What Go's server sends for a request it cannot serve: the status as a text body."""
        text = b"%d %s" % (status, HTTPStatus(status).phrase.encode())
        stream.started = True
        stream.length = len(text)
        stream.headers = [(b":status", b"%d" % status),
                          (b"content-type", b"text/plain; charset=utf-8"),
                          (b"content-length", b"%d" % len(text)), (b"date", http_date())]
        await self.send_body(stream, text, False)

    async def _reset(self, stream: _Stream) -> None:
        if not (stream.complete or self.closed):
            self._out.append(rst_stream(stream.stream_id, ErrorCode.INTERNAL_ERROR))
        self._close(stream)
        await self._flush()
        await self._settle()

    async def _end(self, stream: _Stream) -> None:
        """The response's END_STREAM is queued: write it; the response is over."""
        stream.end()
        self.streams.pop(stream.stream_id, None)
        if stream.remote_closed:
            self._open.pop(stream.stream_id, None)
        if stream.unacked:  # its unread body's credit
            self._release(stream, stream.unacked)
            stream.unacked = 0
        await self._flush()
        await self._settle()

    async def _settle(self) -> None:
        """Tell the connection when it turns busy or idle; once idle, GOAWAY if asked for."""
        if not self.streams and self.go_away_requested:
            await self._go_away()
        busy = bool(self.streams)
        if busy != self._busy and not self.closed:
            self._busy = busy
            await self.send(Updated(idle=not busy))

    async def acknowledge(self, stream: _Stream) -> None:
        """The app read what arrived of the body: the client may send as much again."""
        if stream.unacked and not self.closed:
            self._release(stream, stream.unacked)
            stream.unacked = 0
            await self._flush()

    # -- GOAWAY and writing ---------------------------------------------------------------------

    async def request_go_away(self) -> None:
        """Send GOAWAY once no response is being sent (at once if none is).

        Go sends it at once; waiting for the stream in flight to end matters to clients built on
        the h2 library (httpx): h2 fails a connection's streams on any frame after a GOAWAY.
        """
        self.go_away_requested = True
        if not self.streams:
            await self._go_away()

    async def _go_away(self) -> None:
        """GOAWAY(NO_ERROR) naming the highest stream received so far: it and all below it are
        answered; later streams are ignored (see :meth:`_headers`)."""
        if self.last_stream_id is not None or self.closed:
            return
        self.last_stream_id = self._highest
        self._out.append(goaway(self._highest, ErrorCode.NO_ERROR))
        await self._flush()
        self.goaway_sent.set()

    async def _flush(self) -> None:
        """Write the frames queued so far, in order with every other write of the connection
        (they are taken without an ``await`` between, under the connection's send lock)."""
        out = self._out
        if not out or self.closed:
            out.clear()
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        try:
            connection = self.connection
            await tlswrite.send_all(connection.stream, data, connection.send_lock,
                                    connection.direct)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await self.connection.connection_broken()


def _unpadded(flags: int, payload: bytes) -> bytes:
    """A DATA or HEADERS payload without its padding (6.1)."""
    if not flags & PADDED:
        return payload
    if not payload or payload[0] >= len(payload):
        raise GoAway(ErrorCode.PROTOCOL_ERROR, "padding as long as the frame")
    return payload[1:len(payload) - payload[0]]


def _valid(name: bytes, value: bytes) -> bool:
    """Whether a request field may be in an HTTP/2 request (8.2.1, 8.2.2, 8.3.1); valid fields
    are remembered, for every connection, as the same fields come again and again."""
    if name[:1] == b":":
        if name not in _REQUEST_PSEUDO:
            return False
    elif (not _FIELD_NAME.match(name) or name in _CONNECTION_SPECIFIC
          or (name == b"te" and value != b"trailers")):
        return False
    if _BAD_VALUE.search(value):
        return False
    if len(_CHECKED) >= _CHECKED_LIMIT:
        _CHECKED.clear()
    _CHECKED.add((name, value))
    return True
