"""Writing to a connection without a trip through trio's scheduler when the socket takes it all.

A watch writes each event to every watcher. ``SSLStream.send_all`` yields to the scheduler
twice per write (its lock and its socket send are both checkpoints) and enters three context
managers; across 1000 watchers that was most of a delivery. :func:`send_all` encrypts with the
stream's own ``SSLObject`` and hands the record to the socket with one ``os.write``; only a
socket that does not take it all (a slow reader) waits, in trio's ``send_all`` of the rest.

It relies on ``trio.SSLStream``'s private state (checked on each call: with anything unexpected
it falls back to ``SSLStream.send_all``); tests/test_tlswrite.py checks the fast path is taken.
"""

from __future__ import annotations

import os
import ssl

import trio

try:
    from trio._ssl import _State
    _OK: object = _State.OK
except ImportError:  # another trio: always the public path
    _OK = object()


def _fast_path_ready(stream: trio.SSLStream[trio.SocketStream]) -> bool:
    """Nothing else is being sent or owed on this TLS stream, and its handshake is done."""
    try:
        return (stream._state is _OK and stream._handshook.done
                and stream._delayed_outgoing is None and not stream._inner_send_lock.locked()
                and stream._outgoing.pending == 0)
    except AttributeError:
        return False


async def send_all(stream: trio.abc.Stream, data: bytes, lock: trio.Lock) -> None:
    """``stream.send_all(data)`` as the connection's writer holding ``lock`` (the connection's
    send lock) would do it, never cancelled halfway (which would break a TLS stream).

    On a TLS stream with nothing else being sent, the record is encrypted and written without
    an ``await``: nothing can interleave, so neither lock is taken. Only when the socket does
    not take it all are both taken while trio sends the rest."""
    if lock.locked() or not isinstance(stream, trio.SSLStream) or not _fast_path_ready(stream):
        async with lock:
            with trio.CancelScope(shield=True):
                await stream.send_all(data)
        return
    # No await until the record is written or the locks are held.
    try:
        stream._ssl_object.write(data)
    except ssl.SSLError as exc:
        raise trio.BrokenResourceError from exc
    record = stream._outgoing.read()
    transport = stream.transport_stream
    try:
        sent = os.write(transport.socket.fileno(), record)
    except OSError:  # full (BlockingIOError), or broken: trio's send_all says which
        sent = 0
    if sent == len(record):
        return
    inner = stream._inner_send_lock  # a sender on the receive side queues behind the rest
    lock.acquire_nowait()
    inner.acquire_nowait()
    try:
        with trio.CancelScope(shield=True):
            await transport.send_all(memoryview(record)[sent:])
    finally:
        inner.release()
        lock.release()
