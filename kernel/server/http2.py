"""HTTP/2 connections: frames read and written by h2's state machine, each request handed to the
ASGI app directly, with kube's limits and the graceful GOAWAY of Go's x/net/http2.

Used by :class:`kernel.server.httpserver.PeerCertTCPServer` for every connection that negotiated
``h2`` by ALPN (what kubectl, client-go and every informer speak), in place of Hypercorn's
``H2Protocol``. h2 still parses and checks every frame, keeps the streams' states and the flow
control windows, and decodes requests' headers (HPACK); what this module replaces is what
Hypercorn layered on it per request: an ``HTTPStream`` and its events, the app wrapper's task
and memory channel, a priority tree, and a sending task woken for every frame; and it encodes
responses' headers itself (:class:`_ResponseEncoder`). Together that was about a third of a
small HTTP/2 GET's CPU (``bench/README.md``). What this module does, Go's way where Hypercorn
differed:

- Settings: kube's stream limit, header-list limit, frame size and windows (256 KiB per stream;
  the connection's window that times the stream limit: Go's MaxUploadBufferPerConnection).
- Requests: the app starts once a stream's headers arrive; its body reaches the app as DATA
  frames come, and their flow-control credit is returned as the app reads them (a client can
  have no more unread body in the server than its windows allow). A request without ``:path``
  (a plain CONNECT), or whose path or method is not ASCII, gets 400.
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
  --shutdown-send-retry-after), a request sampled by --goaway-chance, an idle connection and
  shutdown. It goes out once no response is being sent: the h2 library (httpx) fails a stream
  whose frames follow a GOAWAY. h2's own ``close_connection`` is not used: it ends the state
  machine, after which the streams in flight could not be answered.
- A connection error (a frame h2 refuses, a header list over the limit, too many streams) sends
  h2's GOAWAY and closes the connection, as Go's server does.
"""

from __future__ import annotations

import logging
import random
import struct
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import trio
from hpack.hpack import encode_integer
from hpack.table import HeaderTable
from hypercorn.events import Closed, Event, RawData, Updated

from kernel.server import tlswrite
from kernel.server.exchange import Exchange
from kernel.server.http1 import Connection, check_response_header, http_date

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

log = logging.getLogger("hypercorn.error")  # where app crashes were logged: the same log

_ASGI = {"spec_version": "2.3", "version": "3.0"}
# Inbound frames are checked and normalised by h2; outbound headers are made here, already
# lowercase and without connection-specific fields (h2's own checks of them cost 5% of a GET).
_H2_CONFIG = h2.config.H2Configuration(client_side=False, header_encoding=None,
                                       validate_outbound_headers=False,
                                       normalize_outbound_headers=False)
# RFC 9113 8.2.2: fields that mean something only to an HTTP/1.1 connection are not sent.
_CONNECTION_SPECIFIC = frozenset({b"connection", b"keep-alive", b"proxy-connection",
                                  b"transfer-encoding", b"upgrade"})
_NO_BODY_STATUS = frozenset({204, 304})
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}
# RFC 7541 Appendix A, 1-based: each full field's index, and each name's first index.
_STATIC_FIELDS = {field: i for i, field in enumerate(HeaderTable.STATIC_TABLE, 1)}
_STATIC_NAMES: dict[bytes, int] = {}
for _index, (_name, _) in enumerate(HeaderTable.STATIC_TABLE, 1):
    _STATIC_NAMES.setdefault(_name, _index)
_UNIQUE_VALUES = frozenset({b"audit-id", b"date", b"content-length"})  # not worth keeping
_ENCODED: dict[tuple[bytes, bytes], bytes] = {}  # response fields' encodings (_ResponseEncoder)
_ENCODED_LIMIT = 1024
_GOAWAY_HEADER = struct.pack(">I", 8)[1:] + b"\x07\x00" + b"\x00\x00\x00\x00"  # length, type, stream 0


class _ResponseEncoder:
    """HPACK for responses without the dynamic table (h2 calls ``encode`` for each header block).

    hpack's Encoder searches the static and dynamic tables for every field, adds each literal to
    the dynamic table and Huffman-codes it: about 35 µs of a small response here, a tenth of a
    GET over HTTP/2. This one sends each field as a static-table index when name and value are
    in it (``:status: 200``), else as a literal without indexing (RFC 7541 6.2.2) that names the
    static table's entry for its name where there is one, without Huffman coding. Without a
    dynamic table a field's encoding is the same on every connection, so the encodings of
    fields whose values repeat (the content type, cache-control, the priority-and-fairness
    uids) are kept for all. The first block sets the dynamic table's size to 0 (6.3): the
    client's decoder table is never written, so no later SETTINGS_HEADER_TABLE_SIZE needs
    another update. Requests are still decoded by hpack (h2's decoder)."""

    def __init__(self) -> None:
        self._first = True

    @property
    def header_table_size(self) -> int:
        return 0

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        pass  # h2 passes on the client's limit; an empty table is within any

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


class _Stream(Exchange):
    """One request and its response."""

    __slots__ = ("protocol", "stream_id", "unacked", "window", "headers", "length", "sent",
                 "no_body")

    def __init__(self, protocol: HTTP2Protocol, stream_id: int, scope: dict[str, Any]) -> None:
        super().__init__(scope)
        self.protocol = protocol
        self.stream_id = stream_id
        self.unacked = 0  # flow-controlled bytes received and not yet read by the app
        self.window: trio.Event | None = None  # a send waiting for flow-control credit
        self.headers: list[tuple[bytes, bytes]] | None = None  # held for the body (a length)
        self.length: int | None = None
        self.sent = 0
        self.no_body = scope["method"] == "HEAD"

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
        self.wake()

    async def _taken(self) -> None:
        await self.protocol.acknowledge(self)

    async def _start(self, status: int, headers: Any) -> None:
        await self.protocol.start_response(self, status, headers)

    async def _body(self, body: bytes, more: bool) -> None:
        await self.protocol.send_body(self, body, more)


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
        self._frame_and_window = frame_and_window
        self.h2 = h2.connection.H2Connection(config=_H2_CONFIG)
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_concurrent_streams,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: max_header_list_size,
            h2.settings.SettingCodes.MAX_FRAME_SIZE: frame_and_window,
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: frame_and_window,
        })
        self.h2.max_inbound_frame_size = frame_and_window
        self.h2.decoder.max_header_list_size = max_header_list_size
        self.h2.encoder = _ResponseEncoder()  # type: ignore[assignment]
        self.streams: dict[int, _Stream] = {}  # the streams whose responses are not over
        self.closed = False
        self.go_away_requested = False
        self.last_stream_id: int | None = None  # set once GOAWAY is sent
        self.goaway_sent = trio.Event()

    async def initiate(self) -> None:
        self.h2.initiate_connection()
        # The connection window: the stream window times the stream limit (h2 starts at 64 KiB).
        self.h2.increment_flow_control_window(self._frame_and_window * self._streams_limit - 65535)
        await self._flush()

    # -- the connection's events ---------------------------------------------------------------

    async def handle(self, event: Event) -> None:
        if isinstance(event, RawData):
            if not event.data:
                return  # the input ended: Closed follows
            try:
                events = self.h2.receive_data(event.data)
            except h2.exceptions.ProtocolError:
                await self._flush()  # h2's GOAWAY with the error
                await self.send(Closed())
                return
            await self._handle_events(events)
        elif isinstance(event, Closed):
            self._connection_lost()

    async def _handle_events(self, events: list[h2.events.Event]) -> None:
        if self.connection.shutting_down.is_set() and not self.go_away_requested:
            # Shutdown began before this connection's watcher ran: these streams were read, so
            # they are served and the GOAWAY will name them.
            self.go_away_requested = True
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                await self._request(event)
            elif isinstance(event, h2.events.DataReceived):
                self._data(event)
            elif isinstance(event, h2.events.StreamEnded):
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.body_complete = True
                    stream.wake()
            elif isinstance(event, h2.events.WindowUpdated):
                if event.stream_id:
                    stream = self.streams.get(event.stream_id)
                    if stream is not None:
                        stream.wake_sender()
                else:
                    self._wake_senders()
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                if h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
                    self._wake_senders()
            elif isinstance(event, h2.events.StreamReset):
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.end(disconnected=True)
                    await self._stream_over(stream)
            elif isinstance(event, h2.events.ConnectionTerminated):
                await self._flush()
                await self.send(Closed())
                return
        await self._flush()  # window updates, SETTINGS and PING acknowledgements

    async def _request(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id
        if self.last_stream_id is not None and stream_id > self.last_stream_id:
            # After GOAWAY: ignored, as Go does. The GOAWAY, which the client reads first, tells
            # it this stream was not processed, so it retries it on another connection (an
            # RST_STREAM would make the h2 library, hence httpx, fail the whole connection).
            return
        method = path = authority = None
        host = b""
        headers: list[tuple[bytes, bytes]] = [(b"host", b"")]  # kept first, as Hypercorn did
        for name, value in event.headers or ():
            if name[:1] == b":":
                if name == b":method":
                    method = value
                elif name == b":path":
                    path = value
                elif name == b":authority":
                    authority = value
            elif name == b"host":
                host = value
            else:
                headers.append((name, value))
        headers[0] = (b"host", authority if authority is not None else host)
        raw_path, _, query = (path or b"").partition(b"?")
        # A path or method that is not ASCII is a 400 (it raised in Hypercorn's stream, which
        # ended the whole server).
        try:
            decoded = unquote(raw_path.decode("ascii")) if path else None
            verb = _METHODS.get(method or b"") or (method or b"").decode("ascii")
        except UnicodeDecodeError:
            decoded = verb = None
        extensions: dict[str, Any] = {"tls": self._tls} if self._tls is not None else {}
        scope = {
            "type": "http", "asgi": _ASGI, "http_version": "2", "method": verb or "GET",
            "scheme": self._scheme,
            "path": decoded, "raw_path": raw_path, "query_string": query, "root_path": "",
            "headers": headers, "client": self._client, "server": self._server,
            "extensions": extensions,
        }
        stream = _Stream(self, stream_id, scope)
        first = not self.streams
        self.streams[stream_id] = stream
        if first:
            await self.send(Updated(idle=False))
        if decoded is None or not verb:
            await self._error_response(stream, 400)
            return
        self.connection.spawn(self._run, stream)

    def _data(self, event: h2.events.DataReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is None or stream.complete:
            # Body still arriving for a stream already answered (a 413), reset, or ignored after
            # GOAWAY: discarded, its flow-control credit returned. (Go also sends RST_STREAM to
            # stop the upload; httpx then waits forever for flow control, so the client may
            # finish sending instead and read the 413.)
            self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            return
        if not event.data:  # padding only (or empty): nothing for the app to read
            if event.flow_controlled_length:
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            return
        stream.chunks.append(event.data)
        stream.unacked += event.flow_controlled_length
        if stream.waiter is not None:
            stream.waiter.set()
            stream.waiter = None

    def _wake_senders(self) -> None:
        for stream in self.streams.values():
            stream.wake_sender()

    def _connection_lost(self) -> None:
        self.closed = True
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            stream.end(disconnected=True)

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
            if await self._h2_call(stream, self.h2.send_headers, stream.stream_id, out):
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
        h2conn, stream_id = self.h2, stream.stream_id
        headers, stream.headers = stream.headers, None
        if headers is not None:
            if not await self._h2_call(stream, h2conn.send_headers, stream_id, headers,
                                       end_stream=not more and not body):
                return
            if not more and not body:
                await self._flush()
                await self._end(stream)
                return
        at, size = 0, len(body)
        while at < size or (not more and size == 0):
            window = self._window(stream) if size else 0
            if window < 0:  # the stream or the connection ended
                return
            if size and window == 0:
                await self._flush()
                if not await self._wait_window(stream):
                    return
                continue
            n = min(window, h2conn.max_outbound_frame_size, size - at)
            end = not more and at + n == size
            piece = body if n == size else body[at:at + n]
            if not await self._h2_call(stream, h2conn.send_data, stream_id, piece, end_stream=end):
                return
            at += n
            if end:
                break
        await self._flush()
        if not more:
            await self._end(stream)

    async def _h2_call(self, stream: _Stream, call: Callable[..., Any], *args: Any,
                       **kwargs: Any) -> bool:
        """Call h2; if the stream or the connection has closed meanwhile, end the stream and
        return False."""
        try:
            call(*args, **kwargs)
            return True
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            stream.end(disconnected=True)
            await self._stream_over(stream)
            return False

    def _window(self, stream: _Stream) -> int:
        """The stream's flow-control credit (the connection's included); -1 once it ended."""
        if stream.complete or self.closed:
            return -1
        try:
            return self.h2.local_flow_control_window(stream.stream_id)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return -1

    async def _wait_window(self, stream: _Stream) -> bool:
        """Wait for flow-control credit; False if the stream or the connection ended."""
        window = self._window(stream)
        if window != 0:  # credit came while the flush waited, or the stream ended
            return window > 0
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
        if await self._h2_call(stream, self.h2.reset_stream, stream.stream_id,
                               h2.errors.ErrorCodes.INTERNAL_ERROR):
            await self._flush()
        stream.end(disconnected=True)
        await self._stream_over(stream)

    async def _end(self, stream: _Stream) -> None:
        stream.end()
        await self._stream_over(stream)

    async def _stream_over(self, stream: _Stream) -> None:
        """The stream's response is over: its unread body's credit goes back; once no stream is
        left the connection is idle (or goes away)."""
        if self.streams.get(stream.stream_id) is not stream:
            return
        del self.streams[stream.stream_id]
        if stream.unacked and not self.closed:
            self.h2.acknowledge_received_data(stream.unacked, stream.stream_id)
            stream.unacked = 0
            await self._flush()
        if not self.streams:
            if self.go_away_requested:
                await self._go_away()
            await self.send(Updated(idle=True))

    async def acknowledge(self, stream: _Stream) -> None:
        """The app read what arrived of the body: the client may send as much again."""
        if stream.unacked and not self.closed:
            self.h2.acknowledge_received_data(stream.unacked, stream.stream_id)
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
        answered; later streams are ignored (see :meth:`_request`)."""
        if self.last_stream_id is not None or self.closed:
            return
        self.last_stream_id = last = self.h2.highest_inbound_stream_id
        await self._flush()  # frames h2 already queued go first
        await self._write(_GOAWAY_HEADER + struct.pack(">II", last, h2.errors.ErrorCodes.NO_ERROR))
        self.goaway_sent.set()

    async def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            await self._write(data)

    async def _write(self, data: bytes) -> None:
        """Write ``data`` in order with every other write of the connection (frames are taken
        from h2 and written without an ``await`` between, under the connection's send lock)."""
        if self.closed:
            return
        try:
            await tlswrite.send_all(self.connection.stream, data, self.connection.send_lock)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await self.connection.connection_broken()
