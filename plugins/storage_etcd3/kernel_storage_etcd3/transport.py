"""etcd's gRPC calls over HTTP/2 from the trio thread: no gRPC thread, no thread hop.

grpcio completes every call on its own threads, and an answer reaches the trio thread only
through a wake-up from there: in a loaded server that hand-over (and the GIL contention of
gRPC's threads with the trio thread) cost 0.2-0.4 ms per request beyond the raw call, more than
etcd itself needs, and the watch stream's two threads as much again per event
(bench/etcd_transports.py, bench/README.md). No gRPC client runs on trio (grpclib is asyncio
only), so the calls are made here as gRPC defines them over HTTP/2
(https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): a call is one HTTP/2 stream;
each message is a DATA payload with a 5-byte prefix (compressed flag, length); the answer ends
with trailers carrying ``grpc-status`` and ``grpc-message``.

The HTTP/2 framing (RFC 9113) is written here rather than with the h2 library: h2's state
machines, frame objects and per-frame logging cost about as much CPU per call as etcd's whole
answer (measured in bench/README.md), and a client of one kind of server needs little of them:
no server push (disabled in our SETTINGS), no priorities, headers only as a whole block. Header
blocks are HPACK (the hpack library): ours are encoded without indexing, so each is the same
bytes every time and is cached; etcd's are decoded in order, as the decoder's table requires.

Each endpoint has one :class:`Connection`, opened on first use and again after it failed. Its
reader task hands answers to the callers waiting for them and each message of a streaming call
(etcd's Watch) to that call's callback, in the trio thread; small writes go straight to the
socket, larger ones through a writer task. Failures are :class:`CallError`, read like grpcio's
errors (``code()``, ``details()``) by :mod:`kernel_storage_etcd3.errors`. Keepalive pings (kube's
30 s, answered within 10 s) find a dead link under a long-lived watch.
"""

from __future__ import annotations

import contextlib
import enum
import os
import socket
import ssl
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import hpack
import trio

# What etcd may send before the reader acknowledges it: a large range answer flows at once.
WINDOW = 1 << 24
READ_SIZE = 1 << 18  # bytes asked of the socket per read
LAST_STREAM_ID = (1 << 31) - 1  # a client's stream IDs are odd and below it (RFC 9113 5.1.1)
KEEPALIVE_TIME, KEEPALIVE_TIMEOUT = 30.0, 10.0  # kube's etcd client keepalive

# RFC 9113 section 6: frame types, flags, settings, error codes
DATA, HEADERS, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = \
    0x0, 0x1, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY = 0x4, 0x8, 0x20
SETTINGS_ENABLE_PUSH, SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_FRAME_SIZE = 0x2, 0x4, 0x5
CANCEL, REFUSED_STREAM = 0x8, 0x7
DEFAULT_WINDOW, DEFAULT_MAX_FRAME = 65535, 16384
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_FRAME = struct.Struct(">IBI")  # 24-bit length and 8-bit type as one word, flags, stream id
_SETTING = struct.Struct(">HI")
_WORD = struct.Struct(">I")



class StatusCode(enum.IntEnum):
    """gRPC's status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


_RESET_CODES = {CANCEL: StatusCode.CANCELLED}


def _frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return _FRAME.pack(len(payload) << 8 | kind, flags, stream_id) + payload


@dataclass(frozen=True)
class Method:
    """One gRPC method: its HTTP/2 path and the protobuf class of its responses."""

    path: bytes
    response: type


class CallError(Exception):
    """A call that failed: its gRPC status code and message (read as grpcio's errors are)."""

    def __init__(self, code: StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self._code, self._details = code, details

    def code(self) -> StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


class NotSent(CallError):
    """A call etcd cannot have acted on: its request never left (the connection was closed or
    the write failed), or etcd refused its stream or went away before it (GOAWAY). The channel
    sends it once more, as gRPC's transparent retry does."""

    def __init__(self, details: str) -> None:
        super().__init__(StatusCode.UNAVAILABLE, details)


def _framed(message: Any) -> bytes:
    body = message.SerializeToString()
    return b"\0%b%b" % (len(body).to_bytes(4, "big"), body)


class _Exchange:
    """What a connection keeps of each open stream."""

    def __init__(self, send_window: int) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.send_window = send_window  # what etcd lets us send on this stream
        self.unacknowledged = 0  # bytes received on it and not yet given back to etcd's window

    def received(self, data: bytes) -> None:
        raise NotImplementedError

    def end(self, error: CallError | None) -> None:
        """The stream ended: cleanly (None) or with ``error``."""
        raise NotImplementedError


class _Call(_Exchange):
    """A unary call in flight: its answer's headers and data, and its waiting task."""

    def __init__(self, send_window: int) -> None:
        super().__init__(send_window)
        self.task = trio.lowlevel.current_task()
        self.chunks: list[bytes] = []
        self.error: CallError | None = None
        self.done = self.waiting = False

    def received(self, data: bytes) -> None:
        self.chunks.append(data)

    def end(self, error: CallError | None) -> None:
        self.error, self.done = error, True
        if self.waiting:
            self.waiting = False
            trio.lowlevel.reschedule(self.task)


class Stream(_Exchange):
    """A streaming call: messages sent with :meth:`send`; each response message is handed to
    ``on_message`` and the call's end to ``on_end``, in the trio thread, by the connection's
    reader."""

    def __init__(self, connection: Connection, stream_id: int, method: Method,
                 on_message: Callable[[Any], None],
                 on_end: Callable[[CallError], None]) -> None:
        super().__init__(connection.initial_window)
        self.connection, self.stream_id, self.method = connection, stream_id, method
        self.on_message, self.on_end = on_message, on_end
        self._buffer = bytearray()
        self.ended = False

    def send(self, message: Any) -> None:
        if not self.ended:
            self.connection.send_soon(self.stream_id, _framed(message))

    def cancel(self) -> None:
        """End the call from this side; ``on_end`` is not called."""
        if not self.ended:
            self.ended = True
            self.connection.abandon(self.stream_id)

    def received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 5:
            size = int.from_bytes(buffer[1:5], "big")
            if len(buffer) < 5 + size:
                break
            message = self.method.response.FromString(bytes(buffer[5:5 + size]))
            del buffer[:5 + size]
            if not self.ended:
                self.on_message(message)

    def end(self, error: CallError | None) -> None:
        if not self.ended:
            self.ended = True
            self.on_end(error or CallError(StatusCode.UNAVAILABLE, "etcd ended the stream"))


class Connection:
    """One HTTP/2 connection to etcd: every call is one of its streams."""

    def __init__(self, stream: trio.abc.Stream, authority: str, scheme: str) -> None:
        self.stream = stream
        transport = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
        assert isinstance(transport, trio.SocketStream)
        # A plain socket takes a small write at once, without trio's send_all (no lock, no
        # task switch); send_all runs when the socket is full or another write is under way.
        self._fd = transport.socket.fileno() if transport is stream else -1
        # The same socket, to learn before a call is sent on it what etcd sent since the reader
        # task last ran: the connection's end, a reset, a GOAWAY.
        self._socket = socket.socket(fileno=os.dup(transport.socket.fileno()))
        self._socket.setblocking(False)
        self._headers = [(b":method", b"POST"), (b":scheme", scheme.encode()), (b":path", b""),
                         (b":authority", authority.encode()),
                         (b"content-type", b"application/grpc"), (b"te", b"trailers")]
        self._encoder, self._decoder = hpack.Encoder(), hpack.Decoder()
        self._blocks: dict[tuple[bytes, int | None], bytes] = {}  # encoded header blocks
        self._calls: dict[int, _Exchange] = {}
        self._next_stream_id = 1
        self._out = bytearray()  # frames to write
        self._outbox: dict[int, tuple[bytes, bool]] = {}  # DATA waiting for etcd's window
        self._unsent = b""  # what the socket did not take of a direct write
        self._inbox = bytearray()  # bytes read, not yet a whole frame
        self._headers_pending: tuple[int, int, bytearray] | None = None  # until CONTINUATION ends
        self.send_window = DEFAULT_WINDOW  # the connection's, as etcd allows
        self.initial_window = DEFAULT_WINDOW  # each new stream's, as etcd's SETTINGS say
        self.max_frame = DEFAULT_MAX_FRAME
        self._unacknowledged = 0  # bytes received and not yet given back to etcd's window
        self._send_lock = trio.Lock()
        self._writer_wake = trio.Event()
        self.token = trio.lowlevel.current_trio_token()
        self.closed: str | None = None  # why, once closed
        self.received = 0  # frames read
        self._last_received = trio.current_time()
        self._ping_sent: float | None = None
        self.retiring = False  # no new calls: out of stream IDs, or etcd is going away

    def usable(self) -> bool:
        """Whether a new call may be sent on this connection: open, not going away, and in the
        calling trio run; what etcd sent since the reader task last ran is read first."""
        if self.closed or self.retiring or self.token is not trio.lowlevel.current_trio_token():
            return False
        # On a plain socket the frames are read and handled here, as the reader would (it then
        # finds nothing left); under TLS the bytes belong to the TLS stream, and only the
        # socket's end can be seen.
        try:
            if self._fd >= 0:
                self._read_ready()
            elif not self._socket.recv(1, socket.MSG_PEEK):
                self.close("etcd closed the connection")
        except BlockingIOError:
            pass  # nothing (more) to read
        except Exception as error:  # noqa: BLE001 - as in the reader: a reset, a broken peer
            self.close(f"reading from etcd: {error or type(error).__name__}")
        return not self.closed and not self.retiring

    async def start(self) -> None:
        self._out += _PREFACE + _frame(SETTINGS, 0, 0, _SETTING.pack(SETTINGS_ENABLE_PUSH, 0)
                                       + _SETTING.pack(SETTINGS_INITIAL_WINDOW_SIZE, WINDOW))
        self._out += _frame(WINDOW_UPDATE, 0, 0, _WORD.pack(WINDOW - DEFAULT_WINDOW))
        await self._flush()
        name = self._headers[3][1].decode()
        trio.lowlevel.spawn_system_task(self._read, name=f"etcd {name} reader")
        trio.lowlevel.spawn_system_task(self._write, name=f"etcd {name} writer")

    # -- calls ---------------------------------------------------------------------------------

    def _open(self, method: Method, timeout: float | None, exchange: _Exchange) -> int:
        if self.closed:
            raise NotSent(self.closed)
        stream_id = self._next_stream_id
        self._next_stream_id += 2
        if self._next_stream_id > LAST_STREAM_ID:  # later calls go to a new connection
            self.retiring = True
        millis = None if timeout is None else max(1, min(int(timeout * 1000), 99999999))
        block = self._blocks.get((method.path, millis))
        if block is None:
            headers = self._headers.copy()
            headers[2] = (b":path", method.path)
            if millis is not None:
                headers.append((b"grpc-timeout", b"%dm" % millis))
            block = self._encoder.encode([hpack.NeverIndexedHeaderTuple(name, value)
                                          for name, value in headers])
            if len(self._blocks) < 1000:
                self._blocks[(method.path, millis)] = block
        self._calls[stream_id] = exchange
        self._out += _frame(HEADERS, END_HEADERS, stream_id, block)
        return stream_id

    async def call(self, method: Method, request: Any, timeout: float) -> Any:
        """``method(request)``, a unary call: its response, or a CallError."""
        call = _Call(self.initial_window)
        stream_id = self._open(method, timeout, call)
        received = self.received
        with trio.move_on_after(timeout) as deadline:
            try:
                self._queue(stream_id, _framed(request), end_stream=True)
                try:
                    await self._flush()
                except CallError as error:  # the write failed: the request never left
                    raise NotSent(error.details()) from None
                if not call.done:
                    call.waiting = True

                    def abort(_: Any) -> trio.lowlevel.Abort:
                        call.waiting = False
                        return trio.lowlevel.Abort.SUCCEEDED

                    await trio.lowlevel.wait_task_rescheduled(abort)
            finally:
                if not call.done:  # cancelled or timed out: etcd need not answer any more
                    self.abandon(stream_id)
        if deadline.cancelled_caught:
            if self.received == received:  # nothing at all came back: a dead link, reconnect
                self.close("no answer from etcd")
            raise CallError(StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        if call.error is not None:
            raise call.error
        return method.response.FromString(_message(b"".join(call.chunks)))

    def open_stream(self, method: Method, on_message: Callable[[Any], None],
                    on_end: Callable[[CallError], None]) -> Stream:
        """A streaming call of ``method``, open until either side ends it."""
        stream = Stream(self, self._next_stream_id, method, on_message, on_end)
        self._open(method, None, stream)
        self._write_soon()
        return stream

    def send_soon(self, stream_id: int, data: bytes) -> None:
        """Send ``data`` on a streaming call without waiting (from synchronous code)."""
        if not self.closed:
            self._queue(stream_id, data, end_stream=False)
            self._write_soon()

    def abandon(self, stream_id: int) -> None:
        """Forget a call no one waits for; its stream is reset."""
        self._outbox.pop(stream_id, None)
        if self._finish(stream_id) is not None and not self.closed:
            self._out += _frame(RST_STREAM, 0, stream_id, _WORD.pack(CANCEL))
            self._write_soon()

    def _finish(self, stream_id: int) -> _Exchange | None:
        call = self._calls.pop(stream_id, None)
        if self.retiring and not self._calls:
            self.close("out of stream IDs" if self._next_stream_id > LAST_STREAM_ID else
                       "etcd is going away")
        return call

    # -- writing -------------------------------------------------------------------------------

    def _queue(self, stream_id: int, data: bytes, *, end_stream: bool) -> None:
        """DATA frames of ``data`` as etcd's flow-control windows allow; the rest waits in the
        outbox for its WINDOW_UPDATE."""
        call = self._calls.get(stream_id)
        if call is None:
            return
        if stream_id in self._outbox:
            waiting, _ = self._outbox.pop(stream_id)
            data = waiting + data
        while True:
            size = min(len(data), self.send_window, call.send_window, self.max_frame)
            if size <= 0 and data:  # (a window shrunk by etcd's SETTINGS may be below 0)
                self._outbox[stream_id] = (data, end_stream)
                return
            self._out += _frame(DATA, END_STREAM if end_stream and size == len(data) else 0,
                                stream_id, data[:size])
            self.send_window -= size
            call.send_window -= size
            data = data[size:]
            if not data:
                return

    def _write_soon(self) -> None:
        """Write the frames made: at once when the socket takes them, else by the writer."""
        if self.closed or not self._out:  # (a closed socket's number may be another's now)
            return
        if self._fd >= 0 and not self._send_lock.locked() and not self._unsent:
            data = bytes(self._out)
            self._out.clear()
            try:
                sent = os.write(self._fd, data)
            except BlockingIOError:
                sent = 0
            except OSError as error:
                self.close(f"writing to etcd: {error}")
                return
            if sent == len(data):
                return
            self._unsent = data[sent:]
        self._writer_wake.set()

    async def _flush(self) -> None:
        """Write the frames made (the socket's fast path first)."""
        if self.closed:
            raise CallError(StatusCode.UNAVAILABLE, self.closed)
        if self._fd >= 0 and not self._send_lock.locked() and not self._unsent:
            self._write_soon()
            if not self._unsent:
                if self.closed:
                    raise CallError(StatusCode.UNAVAILABLE, self.closed)
                return
        data, self._unsent = self._unsent + self._out, b""
        self._out.clear()
        if not data:
            return
        # A write cut short by a cancellation would leave half a frame on the connection.
        with trio.CancelScope(shield=True):
            async with self._send_lock:
                try:
                    await self.stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
                    self.close(f"writing to etcd: {error}")
        if self.closed:
            raise CallError(StatusCode.UNAVAILABLE, self.closed)

    async def _write(self) -> None:
        """The writer task: what the direct writes left, and keepalive pings."""
        with self._closed_on_failure("writing to"):
            while not self.closed:
                with trio.move_on_at(self._keepalive_due()):
                    await self._writer_wake.wait()
                self._writer_wake = trio.Event()
                if self.closed:
                    break
                self._keepalive()
                await self._flush()

    @contextlib.contextmanager
    def _closed_on_failure(self, doing: str) -> Iterator[None]:
        """A system task must not raise: its failure closes the connection (the calls fail)."""
        try:
            yield
        except Exception as error:  # noqa: BLE001
            self.close(f"{doing} etcd: {error or type(error).__name__}")
        except trio.Cancelled:
            self.close("the client is closed")
            raise

    def _keepalive_due(self) -> float:
        if self._ping_sent is not None:
            return self._ping_sent + KEEPALIVE_TIMEOUT
        return self._last_received + KEEPALIVE_TIME

    def _keepalive(self) -> None:
        now = trio.current_time()
        if self._ping_sent is not None and now >= self._ping_sent + KEEPALIVE_TIMEOUT:
            self.close("etcd did not answer a keepalive ping")
        elif self._ping_sent is None and now >= self._last_received + KEEPALIVE_TIME and \
                self._calls:
            self._ping_sent = now
            self._out += _frame(PING, 0, 0, os.urandom(8))

    # -- reading -------------------------------------------------------------------------------

    async def _read(self) -> None:
        with self._closed_on_failure("reading from"):
            while not self.closed:
                if self._fd >= 0:
                    # Not trio's receive_some, which yields between reading and returning what
                    # it read: usable() reads this socket too, and frames must be handled in
                    # the order they came.
                    await trio.lowlevel.wait_readable(self._socket)
                    self._read_ready()
                else:
                    data = await self.stream.receive_some(READ_SIZE)
                    if not data:
                        self.close("etcd closed the connection")
                        break
                    self._handle_data(data)

    def _read_ready(self) -> None:
        """Read and handle what etcd has sent, without waiting (a plain socket)."""
        for _ in range(16):  # then let other tasks run: a large answer takes several turns
            try:
                data = self._socket.recv(READ_SIZE)
            except BlockingIOError:
                return
            if not data:
                self.close("etcd closed the connection")
                return
            self._handle_data(data)

    def _handle_data(self, data: bytes) -> None:
        self._last_received, self._ping_sent = trio.current_time(), None
        self._received(data)
        self._write_soon()  # acknowledgements, and what a window update let go

    def _received(self, data: bytes) -> None:
        """Handle every whole frame read so far."""
        inbox = self._inbox
        inbox += data
        offset, size = 0, len(inbox)
        while size - offset >= 9:
            word, flags, stream_id = _FRAME.unpack_from(inbox, offset)
            end = offset + 9 + (word >> 8)
            if end > size:
                break
            self.received += 1
            self._handle_frame(word & 0xFF, flags, stream_id & LAST_STREAM_ID,
                               bytes(inbox[offset + 9:end]))
            offset = end
        del inbox[:offset]
        if self._outbox:
            for stream_id, (waiting, end_stream) in list(self._outbox.items()):
                del self._outbox[stream_id]
                self._queue(stream_id, waiting, end_stream=end_stream)

    def _handle_frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if self._headers_pending is not None and kind != CONTINUATION:
            raise ProtocolError("a header block interrupted")
        if kind == DATA:
            self._data(flags, stream_id, payload)
        elif kind == HEADERS:
            if flags & PADDED:
                payload = payload[1:len(payload) - payload[0]]
            if flags & PRIORITY:
                payload = payload[5:]
            self._headers_pending = (stream_id, flags, bytearray(payload))
            if flags & END_HEADERS:
                self._header_block()
        elif kind == CONTINUATION:
            pending = self._headers_pending
            if pending is None or pending[0] != stream_id:
                raise ProtocolError("CONTINUATION without HEADERS")
            pending[2].extend(payload)
            if flags & END_HEADERS:
                self._header_block()
        elif kind == RST_STREAM:
            call = self._finish(stream_id)
            if call is not None:
                code = _WORD.unpack(payload)[0]
                details = f"stream reset by etcd (HTTP/2 error {code})"
                call.end(NotSent(details) if code == REFUSED_STREAM else
                         CallError(_RESET_CODES.get(code, StatusCode.INTERNAL), details))
        elif kind == SETTINGS:
            if not flags & ACK:
                self._settings(payload)
        elif kind == PING:
            if not flags & ACK:
                self._out += _frame(PING, ACK, 0, payload)
        elif kind == GOAWAY:
            self._goaway(payload)
        elif kind == WINDOW_UPDATE:
            increment = _WORD.unpack(payload)[0] & LAST_STREAM_ID
            if stream_id == 0:
                self.send_window += increment
            elif (call := self._calls.get(stream_id)) is not None:
                call.send_window += increment
        elif kind == PUSH_PROMISE:
            raise ProtocolError("a server push, which our SETTINGS disabled")
        # PRIORITY and unknown frame types are ignored (RFC 9113 4.1, 5.5)

    def _data(self, flags: int, stream_id: int, payload: bytes) -> None:
        # flow control counts the whole payload, padding included
        self._unacknowledged += len(payload)
        if self._unacknowledged >= WINDOW // 2:
            self._out += _frame(WINDOW_UPDATE, 0, 0, _WORD.pack(self._unacknowledged))
            self._unacknowledged = 0
        call = self._calls.get(stream_id)
        if call is None:
            return  # a call abandoned; its stream was reset
        if flags & PADDED:
            payload = payload[1:len(payload) - payload[0]]
        call.received(payload)
        if flags & END_STREAM:
            self._end(stream_id)
            return
        call.unacknowledged += len(payload)
        if call.unacknowledged >= WINDOW // 2:
            self._out += _frame(WINDOW_UPDATE, 0, stream_id, _WORD.pack(call.unacknowledged))
            call.unacknowledged = 0

    def _header_block(self) -> None:
        assert self._headers_pending is not None
        stream_id, flags, block = self._headers_pending
        self._headers_pending = None
        headers = self._decoder.decode(bytes(block), raw=True)  # in order, whoever it is for
        call = self._calls.get(stream_id)
        if call is not None:
            call.headers.update(headers)
            if flags & END_STREAM:
                self._end(stream_id)

    def _end(self, stream_id: int) -> None:
        call = self._finish(stream_id)
        if call is not None:
            call.end(_status(call.headers))

    def _settings(self, payload: bytes) -> None:
        for offset in range(0, len(payload) - 5, 6):
            setting, value = _SETTING.unpack_from(payload, offset)
            if setting == SETTINGS_INITIAL_WINDOW_SIZE:
                for call in self._calls.values():
                    call.send_window += value - self.initial_window
                self.initial_window = value
            elif setting == SETTINGS_MAX_FRAME_SIZE:
                self.max_frame = value
        self._out += _frame(SETTINGS, ACK, 0)

    def _goaway(self, payload: bytes) -> None:
        """etcd is going away: calls above its last stream fail (never processed, safe to send
        again), the others may still be answered; no new call goes on this connection."""
        last, code = _WORD.unpack_from(payload)[0] & LAST_STREAM_ID, _WORD.unpack_from(payload, 4)[0]
        self.retiring = True
        for stream_id in [stream_id for stream_id in self._calls if stream_id > last]:
            call = self._calls.pop(stream_id)
            call.end(NotSent(f"etcd is going away (HTTP/2 error {code})"))
        if not self._calls:
            self.close(f"etcd ended the connection (HTTP/2 error {code})")

    def close(self, reason: str) -> None:
        """Fail every call in flight (UNAVAILABLE) and close the connection."""
        if self.closed:
            return
        self.closed = reason
        calls, self._calls = self._calls, {}
        for call in calls.values():
            call.end(CallError(StatusCode.UNAVAILABLE, reason))
        self._writer_wake.set()
        stream = self.stream
        if isinstance(stream, trio.SSLStream):
            stream = stream.transport_stream  # closing it needs no TLS goodbye from this thread
        if isinstance(stream, trio.SocketStream):
            stream.socket.close()
        trio.lowlevel.notify_closing(self._socket)
        self._socket.close()


class ProtocolError(Exception):
    """etcd broke the HTTP/2 protocol: the connection is closed."""


class Channel:
    """Calls to one etcd endpoint (``host:port``), over a connection opened on first use in the
    calling trio run and again after it failed."""

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext | None) -> None:
        self.host, self.port, self.ssl_context = host, port, ssl_context
        self.endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._connection: Connection | None = None
        self._connecting: tuple[trio.lowlevel.TrioToken, trio.Lock] | None = None

    async def connection(self, timeout: float) -> Connection:
        connection = self._connection
        if connection is not None and connection.usable():
            return connection
        token = trio.lowlevel.current_trio_token()
        if self._connecting is None or self._connecting[0] is not token:
            self._connecting = (token, trio.Lock())
        async with self._connecting[1]:  # one connection for the callers that found none
            connection = self._connection
            if connection is not None and connection.usable():
                return connection
            if connection is not None and connection.token is not token:
                connection.close("opened by another trio run")
            self._connection = connection = await self._open(timeout)
            return connection

    async def call(self, method: Method, request: Any, timeout: float) -> Any:
        try:
            return await (await self.connection(timeout)).call(method, request, timeout)
        except NotSent:  # once more (on a new connection if this one is closed or closing)
            return await (await self.connection(timeout)).call(method, request, timeout)

    async def _open(self, timeout: float) -> Connection:
        host = self.host
        try:
            with trio.fail_after(timeout):
                stream: trio.abc.Stream = await trio.open_tcp_stream(host, self.port)
                if self.ssl_context is not None:
                    stream = trio.SSLStream(stream, self.ssl_context, server_hostname=host)
                    await stream.do_handshake()
                connection = Connection(stream, self.endpoint,
                                        "https" if self.ssl_context else "http")
                await connection.start()
                return connection
        except trio.TooSlowError:
            raise CallError(StatusCode.UNAVAILABLE,
                            f"connecting to {self.endpoint}: timed out") from None
        except (OSError, trio.BrokenResourceError) as error:
            raise CallError(StatusCode.UNAVAILABLE,
                            f"connecting to {self.endpoint}: {error}") from None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close("the client is closed")


def client_ssl_context(ca_file: str, cert_file: str, key_file: str) -> ssl.SSLContext:
    """TLS to etcd as grpcio's channel credentials do it: etcd's CA (or the system's), the
    client certificate when given, HTTP/2 by ALPN (gRPC servers require it)."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    context.set_alpn_protocols(["h2"])
    return context


def _message(body: bytes) -> bytes:
    """The one message of a unary response (gRPC's 5-byte prefix: compressed flag, length)."""
    if len(body) < 5 or body[0] != 0 or int.from_bytes(body[1:5], "big") != len(body) - 5:
        raise CallError(StatusCode.INTERNAL, "a malformed gRPC response from etcd")
    return body[5:]


def _status(headers: dict[bytes, bytes]) -> CallError | None:
    """The call's failure read from its response headers and trailers; None when it succeeded."""
    status = headers.get(b"grpc-status")
    if status is None:
        http = headers.get(b":status", b"")
        code = StatusCode.UNAVAILABLE if http in (b"502", b"503", b"504") else \
            StatusCode.UNKNOWN
        return CallError(code, f"no gRPC status in etcd's answer (HTTP {http.decode()})")
    if status == b"0":
        return None
    try:
        code = StatusCode(int(status))
    except ValueError:
        code = StatusCode.UNKNOWN
    return CallError(code, unquote(headers.get(b"grpc-message", b"").decode("utf-8", "replace")))
