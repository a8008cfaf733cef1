"""Writing to a connection without a trip through trio's scheduler when the socket takes it all.

A watch writes each event to every watcher. ``SSLStream.send_all`` yields to the scheduler
twice per write (its lock and its socket send are both checkpoints) and enters three context
managers; across 1000 watchers that was most of a delivery. :meth:`DirectWriter.write_now`
encrypts with the stream's own ``SSLObject`` and hands the record to the socket with one
``send``, without an ``await`` (so the watch cache can call it while dispatching);
:func:`send_all` is the same as an awaitable write, where a socket that does not take it all (a
slow reader) waits, in trio's ``send_all`` of the rest.

It relies on ``trio.SSLStream``'s and ``trio.Lock``'s private state (with anything unexpected
there is no direct writer and :func:`send_all` uses ``SSLStream.send_all``);
tests/test_tlswrite.py checks the fast path is taken.
"""

from __future__ import annotations

import enum
import ssl

import trio

try:
    from trio._ssl import _State
    _OK: object = _State.OK
    _BROKEN: object = _State.BROKEN
except ImportError:  # another trio: always the public path
    _OK = _BROKEN = object()


class Wrote(enum.Enum):
    """What :meth:`DirectWriter.write_now` did."""

    ALL = "all"  # every byte is on the socket
    # Encrypted, but the socket took only part of the record: the rest waits in the stream's
    # outgoing buffer, which the next send on the stream (trio's or :func:`flush`) sends first.
    QUEUED = "queued"
    NOTHING = "nothing"  # the stream is busy or not plain TLS: use send_all


class DirectWriter:
    """Writes to one connection's TLS stream at once, as its writer holding ``lock`` (the
    connection's send lock) would, without an ``await``; built once per connection
    (:meth:`of`), so a write looks up none of the stream's parts.

    :meth:`write_now` never raises for a broken connection (the next send does). Only a stream
    with nothing else being sent or owed qualifies (else ``NOTHING``: nothing was done).
    ``QUEUED`` (the socket did not take the whole record) obliges the caller to :func:`flush`
    soon; until then nothing else takes this path, and any trio send on the stream sends the rest
    first, so the bytes stay in order whoever writes next.

    The watch cache calls it once per watcher and event, and every response's write goes
    through it (:func:`send_all`), so the locks' ``locked()`` is read as the attribute it
    returns."""

    __slots__ = ("_stream", "_lock", "_inner", "_handshook", "_outgoing", "_encrypt", "_send")

    def __init__(self, stream: trio.SSLStream[trio.SocketStream], lock: trio.Lock) -> None:
        # Each is set once, in trio.SSLStream.__init__ (trio 0.35), and never replaced.
        self._stream = stream
        self._lock = lock
        self._inner = stream._inner_send_lock
        self._handshook = stream._handshook
        self._outgoing = stream._outgoing
        self._encrypt = stream._ssl_object.write
        # The standard library socket trio's wraps (non-blocking): one C call, where trio's
        # fileno() is a Python one; a closed socket raises there rather than reach another's fd.
        self._send = stream.transport_stream.socket._sock.send  # type: ignore[attr-defined]
        # What write_now reads for locked(): missing in another trio, which then has no writer.
        lock._owner, self._inner._owner  # type: ignore[attr-defined]  # noqa: B018

    @classmethod
    def of(cls, stream: trio.abc.Stream, lock: trio.Lock) -> DirectWriter | None:
        """The writer of ``stream``, or None where there is none: not a trio.SSLStream, or a
        trio whose private state is not as expected (its writers then always await)."""
        if not isinstance(stream, trio.SSLStream):
            return None
        try:
            return cls(stream, lock)
        except AttributeError:
            return None

    def idle(self) -> bool:
        """Nothing else is being sent or owed on the stream, and its handshake is done."""
        stream = self._stream
        return not (self._lock._owner is not None or stream._state is not _OK
                    or self._outgoing.pending or self._inner._owner is not None
                    or stream._delayed_outgoing is not None or not self._handshook.done)

    def write_now(self, data: bytes) -> Wrote:
        if not self.idle():
            return Wrote.NOTHING
        stream, outgoing = self._stream, self._outgoing
        try:
            self._encrypt(data)
        except ssl.SSLError:
            stream._state = _BROKEN  # the caller's send_all raises
            return Wrote.NOTHING
        record = outgoing.read()
        try:
            sent = self._send(record)
        except OSError:  # full (BlockingIOError), or broken: the flush says which
            sent = 0
        if sent == len(record):
            return Wrote.ALL
        outgoing.write(record[sent:])  # it was empty: the rest is all it holds
        return Wrote.QUEUED


async def flush(stream: trio.SSLStream[trio.SocketStream], lock: trio.Lock) -> None:
    """Send what :meth:`DirectWriter.write_now` left queued on ``stream`` (if a trio send has
    not already), under ``lock`` and the stream's own send lock, never cancelled halfway."""
    async with lock:
        with trio.CancelScope(shield=True):
            async with stream._inner_send_lock:
                rest = stream._outgoing.read()
                if rest:
                    try:
                        await stream.transport_stream.send_all(rest)
                    except BaseException:
                        stream._state = _BROKEN
                        raise


async def send_all(stream: trio.abc.Stream, data: bytes, lock: trio.Lock,
                   direct: DirectWriter | None = None) -> None:
    """``stream.send_all(data)`` as the connection's writer holding ``lock`` (the connection's
    send lock) would do it, never cancelled halfway (which would break a TLS stream).

    Through ``direct`` (the connection's writer; made here if not given) when the stream is
    idle: the record is encrypted and written without an ``await``, and only what the socket
    did not take is sent by trio, under both locks (:func:`flush`)."""
    if direct is None:
        direct = DirectWriter.of(stream, lock)
    wrote = Wrote.NOTHING if direct is None else direct.write_now(data)
    if wrote is Wrote.QUEUED:
        await flush(stream, lock)  # type: ignore[arg-type]  # a DirectWriter's: TLS
    elif wrote is Wrote.NOTHING:
        async with lock:
            with trio.CancelScope(shield=True):
                await stream.send_all(data)
