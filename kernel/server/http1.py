"""HTTP/1.1 connections: requests parsed by httptools (llhttp, Node.js's C parser), each handed
to the ASGI app directly, responses framed here.

Used by :class:`kernel.server.httpserver.PeerCertTCPServer` for every connection that did not
negotiate HTTP/2, in place of Hypercorn's ``H11Protocol``. That one parses and frames with h11
(pure Python: 42 µs per small request and response here, against 2 µs for llhttp) and passes
every request and response through three layers of events (its protocol, ``HTTPStream``, and the
app wrapper's task and memory channel): together about 40% of a GET's CPU under load
(bench/profiles). What this module does is what those did, with Go's net/http where they differ:

- Requests: Content-Length or chunked bodies (llhttp refuses both at once, and other smuggling
  forms); ``Host`` required on HTTP/1.1; a head over ``max_header_bytes`` gets 431; a malformed
  request 400, as Go's server answers (``text/plain`` body, ``Connection: close``). Pipelined
  requests are served in order: the next is not read while a response is owed.
- The body reaches the app as it arrives; reading stops while more than :data:`BODY_HIGH_WATER`
  bytes wait for the app. ``Expect: 100-continue`` is answered when the app first waits for the
  body, as Go does. After the response, or once the client is gone, ``receive`` says
  ``http.disconnect``.
- Responses: a Content-Length body is checked against its length; otherwise chunked (HTTP/1.1)
  or delimited by the close (HTTP/1.0); no body for HEAD, 204 and 304. Header names and values
  are checked (no CR, LF or NUL: no response splitting). A response with a length leaves with its
  head in one TLS record and one write; a streamed one's head is sent at once (a watch's client
  sees its headers before the first event).
- The connection is kept for the next request unless the client or the response says close, the
  request was HTTP/1.0, its body had not all arrived when the response ended, or the server is
  shutting down (the response then says ``Connection: close``, as Go's does once keep-alives are
  off). An upgrade request (WebSocket, h2c) is answered as a plain request on a connection that
  then closes: nothing here speaks those protocols.
- A chunked response's body can be written without ASGI (:class:`ChunkWriter`): the watch path.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import unquote

import httptools
import trio
from hypercorn.events import Closed, Event, RawData, Updated

from kernel.server import tlswrite
from kernel.server.exchange import Exchange


class Connection(Protocol):
    """What this module uses of its connection (:class:`kernel.server.httpserver.PeerCertTCPServer`)."""

    stream: trio.SSLStream[trio.SocketStream]
    send_lock: trio.Lock
    direct: tlswrite.DirectWriter | None  # writes without an await, where the stream allows
    shutting_down: Any  # an event: set once the server shuts down

    def spawn(self, task: Callable[..., Awaitable[None]], *args: Any) -> None: ...

    async def connection_broken(self) -> None: ...

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

# The scope extension (HTTP/1.1 requests) through which a streaming response writes pre-framed
# body chunks without ASGI: a callable returning a ChunkWriter, or None.
BODY_WRITER = "kernel.body_writer"

# Request body bytes waiting for the app above which the connection stops reading (TCP then
# holds the client back).
BODY_HIGH_WATER = 256 * 1024
# The largest response written as one piece with its head (joining copies it).
JOIN_LIMIT = 256 * 1024

log = logging.getLogger("hypercorn.error")  # where Hypercorn logged app crashes: the same log

_ASGI = {"spec_version": "2.3", "version": "3.0"}
_HTTP2_PREFACE = b"PRI * HTTP/2.0"
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 field name
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_NO_BODY_STATUS = frozenset({204, 304})
_STATUS_LINES = {status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode())
                 for status in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}
_checked_names: set[bytes] = set()  # response header names already found valid

_date: tuple[int, bytes] = (0, b"")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date() -> bytes:
    """The Date header's value (RFC 9110 IMF-fixdate), made once a second (not email.utils: its
    package's import is more than an idle server needs). HTTP/2 responses use it too."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        t = time.gmtime(now)
        _date = (now, b"%s, %02d %s %d %02d:%02d:%02d GMT" % (
            _DAYS[t.tm_wday].encode(), t.tm_mday, _MONTHS[t.tm_mon - 1].encode(), t.tm_year,
            t.tm_hour, t.tm_min, t.tm_sec))
    return _date[1]


def check_response_header(name: bytes, value: bytes) -> None:
    """Refuse a response header that is not a token or whose value holds CR, LF or NUL (no
    response splitting); ``name`` lowercased, ``value`` stripped. HTTP/2 responses use it too."""
    if name not in _checked_names:
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid response header name {name!r}")
        if len(_checked_names) < 1024:
            _checked_names.add(name)
    if _BAD_VALUE.search(value):
        raise ValueError(f"invalid value of response header {name!r}")


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        if not 100 <= status <= 999:
            raise ValueError(f"invalid HTTP status {status}")
        line = b"HTTP/1.1 %d \r\n" % status
    return line


def error_response(status: int) -> bytes:
    """What Go's server writes for a request it cannot serve: the status as a text body."""
    text = b"%d %s" % (status, HTTPStatus(status).phrase.encode())
    return (_status_line(status) + b"content-type: text/plain; charset=utf-8\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(text), text))


class _Cycle(Exchange):
    """One request and its response."""

    __slots__ = ("protocol", "keep_alive", "buffered", "expects_continue", "drained", "done",
                 "head", "length", "sent", "chunked", "no_body")

    def __init__(self, protocol: HTTP1Protocol, scope: dict[str, Any], keep_alive: bool,
                 expects_continue: bool, head_request: bool) -> None:
        super().__init__(scope)
        self.protocol = protocol
        self.keep_alive = keep_alive
        self.buffered = 0
        self.expects_continue = expects_continue
        self.drained: trio.Event | None = None  # the reader waiting for the app to read
        self.done = trio.Event()  # the response ended (or the connection did)
        self.head: bytes | None = None  # a response head held for its body
        self.length: int | None = None
        self.sent = 0
        self.chunked = False
        self.no_body = head_request

    def wake(self) -> None:
        super().wake()
        if self.drained is not None:
            self.drained.set()
            self.drained = None

    @property
    def streaming(self) -> bool:
        """A chunked body is being sent: :class:`ChunkWriter` may write to it."""
        return self.chunked and self.started and not self.complete and not self.disconnected

    async def _taken(self) -> None:
        self.buffered = 0
        if self.drained is not None:
            self.drained.set()
            self.drained = None

    async def _before_waiting(self) -> bool:
        if self.expects_continue and not self.started and not self.body_complete:
            self.expects_continue = False
            await self.protocol.write(_CONTINUE)
            return True
        return False

    async def _start(self, status: int, headers: Any) -> None:
        self.head = self._head(status, headers)  # raises: not started
        self.started = True
        if self.length is None and not self.no_body:
            head, self.head = self.head, None
            await self.protocol.write(head)  # a streamed body: its client waits for the head

    def _head(self, status: int, headers: Any) -> bytes:
        protocol = self.protocol
        if protocol.connection.shutting_down.is_set() or not self.body_complete:
            self.keep_alive = False
        close_said = False
        has_date = False
        lines = [_status_line(status)]
        for name, value in headers:
            name = bytes(name).lower()
            value = bytes(value).strip()
            check_response_header(name, value)
            if name == b"content-length":
                self.length = int(value)
            elif name == b"connection":
                if b"close" in value.lower():
                    self.keep_alive = False
                    close_said = True
            elif name == b"transfer-encoding":
                continue  # the framing is the server's
            elif name == b"date":
                has_date = True
            lines.append(b"%s: %s\r\n" % (name, value))
        if not has_date:
            lines.append(b"date: %s\r\n" % http_date())
        if status in _NO_BODY_STATUS:
            self.no_body = True
        if not self.no_body and self.length is None:
            if self.scope["http_version"] == "1.1":
                self.chunked = True
                lines.append(b"transfer-encoding: chunked\r\n")
            else:
                self.keep_alive = False  # the body ends with the connection
        if not self.keep_alive and not close_said:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    async def _body(self, body: bytes, more: bool) -> None:
        if self.no_body:
            body = b""
        elif self.length is not None:
            self.sent += len(body)
            if self.sent > self.length or (not more and self.sent != self.length):
                self.keep_alive = False
                await self._end()
                raise RuntimeError(f"response body of {self.sent} bytes, "
                                   f"Content-Length {self.length}")
        if self.chunked:
            data = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
            if not more:
                data += b"0\r\n\r\n"
        else:
            data = body
        head = self.head
        if head is not None:
            self.head = None
            if len(data) <= JOIN_LIMIT:
                data = head + data
            else:
                await self.protocol.write(head)
        if data:
            await self.protocol.write(data)
        if not more:
            await self._end()

    async def _end(self) -> None:
        self.complete = True
        self.scope["extensions"].pop(BODY_WRITER, None)  # its bound method made a reference cycle
        self.wake()
        await self.protocol.cycle_ended(self)

    def body_writer(self) -> ChunkWriter | None:
        return ChunkWriter(self) if self.streaming else None


class ChunkWriter:
    """Writes a started chunked response body's chunks straight to the connection's TLS stream.
    Awaiting it writes one chunk (under the connection's send lock, never cancelled halfway);
    :meth:`write_now` writes one without awaiting, for the watch cache's dispatch, or declines.

    A watch writes every event to every watcher: through ASGI that is the response's framing
    and an await per line. The body still ends with an ASGI send."""

    def __init__(self, cycle: _Cycle) -> None:
        self.cycle = cycle
        self.protocol = cycle.protocol
        connection = cycle.protocol.connection
        self.stream = connection.stream
        self.lock = connection.send_lock
        self.direct = connection.direct

    async def __call__(self, data: bytes) -> None:
        if not data or not self.cycle.streaming:
            await trio.lowlevel.checkpoint()
            return
        await self.protocol.write(_frame(data))

    def write_now(self, data: bytes) -> bool:
        """Write ``data`` as one chunk without an ``await``: True when it is written (the part
        the socket did not take follows from a task of the connection's own), False when nothing
        was (the stream is busy or the body over: await the writer instead)."""
        direct = self.direct
        if direct is None or not data or not self.cycle.streaming:
            return False
        global _framed
        last, chunk = _framed
        if last is not data:  # _frame(data), inlined: it runs once per watcher and event
            chunk = b"%x\r\n%b\r\n" % (len(data), data)
            _framed = (data, chunk)
        wrote = direct.write_now(chunk)
        if wrote is tlswrite.Wrote.ALL:
            return True
        if wrote is tlswrite.Wrote.NOTHING:
            return False
        self.protocol.connection.spawn(self._flush)
        return True

    async def _flush(self) -> None:
        try:
            await tlswrite.flush(self.stream, self.lock)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await self.protocol.connection.connection_broken()


def _frame(data: bytes) -> bytes:
    """``data`` as one chunk. The last framing is kept: a watch event goes to every watcher in a
    row, all with the same bytes object."""
    global _framed
    last, chunk = _framed
    if last is not data:
        chunk = b"%x\r\n%b\r\n" % (len(data), data)
        _framed = (data, chunk)
    return chunk


_framed: tuple[bytes, bytes] = (b"", b"")


class HTTP1Protocol:
    """One HTTP/1.1 connection's requests, in Hypercorn's protocol interface (``initiate``,
    ``handle`` of its events; ``send`` of ``Updated`` and ``Closed`` to the connection)."""

    def __init__(self, app: ASGIApp, connection: Connection, *, tls: dict[str, Any] | None,
                 client: Any, server: Any, send: Callable[[Event], Awaitable[None]],
                 max_header_bytes: int) -> None:
        self.app = app
        self.connection = connection
        self.send = send
        self.max_header_bytes = max_header_bytes
        self._scheme = "https" if tls is not None else "http"
        self._tls = tls
        self._client = client
        self._server = server
        self._parser = httptools.HttpRequestParser(self)
        self._cycle: _Cycle | None = None
        self._closed = False  # no more requests: the input ended, or the connection is closing
        self._close_sent = False
        self._upgraded = False
        self._first = True
        self._head_bytes = 0  # bytes read while a request's head is incomplete
        self._in_head = True
        self._events: list[tuple[Any, ...]] = []
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []

    async def initiate(self) -> None:
        pass

    # -- httptools' callbacks (during feed_data): noted, then handled in order by handle() --

    def on_message_begin(self) -> None:
        self._in_head = True
        self._url = b""
        self._headers = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # llhttp drops the whitespace before a value but not after it (RFC 9110 5.5: not part
        # of the value; h11 and Go drop both).
        self._headers.append((name.lower(), value.rstrip(b" \t")))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        parser = self._parser
        self._events.append(("request", parser.get_method(), self._url, self._headers,
                             parser.get_http_version(), parser.should_keep_alive()))

    def on_body(self, body: bytes) -> None:
        self._events.append(("body", body))

    def on_message_complete(self) -> None:
        self._events.append(("end",))

    # -- the connection's events ---------------------------------------------------------------

    async def handle(self, event: Event) -> None:
        if isinstance(event, RawData):
            if event.data:
                await self._received(event.data)
            else:
                await self._connection_lost()
        elif isinstance(event, Closed):
            await self._connection_lost()

    async def _received(self, data: bytes) -> None:
        if self._closed or self._upgraded:
            return
        if self._first:
            self._first = False
            if data.startswith(_HTTP2_PREFACE):
                # HTTP/2 without ALPN ("prior knowledge"). Go's server hands this preface to
                # handlers that wire up HTTP/2 themselves (kube's do not) and refuses every
                # other HTTP/2 request line with 505; HTTP/2 here is negotiated by ALPN only.
                await self.write(error_response(505))
                await self._close()
                return
        error: int | None = None
        upgrade = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # What follows the request is not HTTP/1.1: nothing more is read.
            upgrade = self._upgraded = True
        except httptools.HttpParserError:
            error = 400
        if error is None and self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                error = 431
        events, self._events = self._events, []
        for event in events:
            kind = event[0]
            if kind == "body":
                cycle = self._cycle
                if cycle is not None and not cycle.complete:
                    cycle.chunks.append(event[1])
                    cycle.buffered += len(event[1])
                    if cycle.waiter is not None:
                        cycle.waiter.set()
                        cycle.waiter = None
            elif kind == "end":
                cycle = self._cycle
                if cycle is not None:
                    cycle.body_complete = True
                    cycle.wake()
            else:
                if self._cycle is not None:  # pipelined: wait for the response owed first
                    await self._cycle.done.wait()
                    if self._closed or self._cycle is not None:
                        return
                if not await self._request(*event[1:], upgrade=upgrade):
                    return
            if self._closed:
                return
        cycle = self._cycle
        if error is not None:
            if cycle is not None and cycle.body_complete:
                await cycle.done.wait()  # the bad request follows one being answered
                cycle = self._cycle
            if cycle is None:
                await self.write(error_response(error))
            elif not cycle.body_complete:  # its body was malformed: the app's input ends
                cycle.disconnected = True
                if not cycle.started:  # the app's own response would come too late
                    cycle.started = cycle.complete = True
                    await self.write(error_response(error))
                cycle.wake()
            await self._close()
        elif cycle is not None and cycle.buffered > BODY_HIGH_WATER and not cycle.complete:
            cycle.drained = trio.Event()
            await cycle.drained.wait()

    async def _request(self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]],
                       version: str, keep_alive: bool, *, upgrade: bool) -> bool:
        """Start the app on a request whose head has arrived; False if it was refused."""
        path, _, query = url.partition(b"?")
        try:
            decoded = unquote(path.decode("ascii"))
        except UnicodeDecodeError:
            decoded = None
        expects_continue = False
        host = False
        for name, value in headers:
            if name == b"host":
                host = True
            elif name == b"expect" and value.lower() == b"100-continue":
                expects_continue = True
        if decoded is None or (version == "1.1" and not host):
            await self.write(error_response(400))
            await self._close()
            return False
        extensions: dict[str, Any] = {"tls": self._tls} if self._tls is not None else {}
        scope = {
            "type": "http", "asgi": _ASGI, "http_version": version,
            "method": _METHODS.get(method) or method.decode("ascii"), "scheme": self._scheme,
            "path": decoded, "raw_path": path, "query_string": query, "root_path": "",
            "headers": headers, "client": self._client, "server": self._server,
            "extensions": extensions,
        }
        cycle = _Cycle(self, scope, keep_alive and version == "1.1" and not upgrade,
                       expects_continue and version == "1.1", method == b"HEAD")
        extensions[BODY_WRITER] = cycle.body_writer
        self._cycle = cycle
        await self.send(Updated(idle=False))
        self.connection.spawn(self._run, cycle)
        return True

    async def _run(self, cycle: _Cycle) -> None:
        try:
            await self.app(cycle.scope, cycle.receive, cycle.send)
        except trio.Cancelled:
            raise
        except Exception:
            log.exception("Error in ASGI Framework")
        if cycle.complete:
            return
        cycle.keep_alive = False
        if not cycle.started:
            cycle.started = True
            await self.write(error_response(500))
        elif cycle.head is not None:  # a response without its body message
            await self.write(cycle.head)
        # Else a response cut short: only closing the connection tells the client.
        await cycle._end()

    async def cycle_ended(self, cycle: _Cycle) -> None:
        """The response of ``cycle`` was sent: keep the connection for the next request, or
        close it."""
        if cycle is not self._cycle:
            return
        if cycle.keep_alive and cycle.body_complete and not self._closed:
            self._cycle = None
            cycle.done.set()
            await self.send(Updated(idle=True))  # the idle timer runs until the next request
        else:
            await self._close()

    async def write(self, data: bytes) -> None:
        """Write ``data`` (also after the input ended: a client that half-closed still reads);
        a broken connection ends as Hypercorn's own send would end it."""
        try:
            connection = self.connection
            await tlswrite.send_all(connection.stream, data, connection.send_lock,
                                    connection.direct)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await self.connection.connection_broken()

    async def _close(self) -> None:
        if not self._close_sent:
            self._close_sent = True
            await self.send(Closed())  # the connection closes, then hands us Closed

    async def _connection_lost(self) -> None:
        self._closed = True
        cycle = self._cycle
        if cycle is not None and not cycle.disconnected:
            cycle.disconnected = True
            cycle.wake()
            cycle.done.set()

    def request_body_unread(self) -> bool:
        """The request's body has not all arrived (the response came first, e.g. a 413), so the
        connection cannot be reused."""
        cycle = self._cycle
        return cycle is not None and not cycle.body_complete
