"""kernel.server.tlswrite: writes that skip the scheduler must leave TLS streams exactly as
trio's own send_all would (real TLS over loopback TCP, real certificates)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trio

from kernel.server import certs, tlswrite


@pytest.fixture
def contexts(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    serving = certs.ensure_self_signed(str(tmp_path), "127.0.0.1")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(serving.cert_file, serving.key_file)
    client = ssl.create_default_context(cafile=serving.ca_file)
    return server, client


async def _pair(contexts: tuple[ssl.SSLContext, ssl.SSLContext]
                ) -> tuple[trio.SSLStream, trio.SSLStream]:
    """A handshaken (server side, client side) pair of TLS streams over loopback TCP."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client_tcp = await trio.open_tcp_stream("127.0.0.1", port)
    server_tcp = await listeners[0].accept()
    await listeners[0].aclose()
    server = trio.SSLStream(server_tcp, contexts[0], server_side=True)
    client = trio.SSLStream(client_tcp, contexts[1], server_hostname="localhost")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.do_handshake)
        nursery.start_soon(client.do_handshake)
    return server, client


async def _read_exactly(stream: trio.SSLStream, size: int, pause: float = 0.0) -> bytes:
    received = bytearray()
    while len(received) < size:
        data = await stream.receive_some(65536)
        assert data, "the stream ended early"
        received += data
        if pause:
            await trio.sleep(pause)
    return bytes(received)


async def test_the_fast_path_is_taken_on_a_handshaken_stream(contexts) -> None:
    # If trio's private SSLStream state changes, every write silently takes the slow path:
    # this fails instead.
    server, client = await _pair(contexts)
    # Right after the handshake trio holds TLS 1.3 session tickets back until the first send
    # (the response head, in the server): that one goes through trio.
    await tlswrite.send_all(server, b"head:", trio.Lock())
    direct = tlswrite.DirectWriter.of(server, trio.Lock())
    assert direct is not None and direct.idle()
    await tlswrite.send_all(server, b"hello", trio.Lock())
    assert await _read_exactly(client, 10) == b"head:hello"
    assert direct.idle()


async def test_a_slow_reader_gets_every_byte_in_order(contexts) -> None:
    # 16 MiB overflows the socket buffers: writes end with trio waiting for the rest.
    server, client = await _pair(contexts)
    chunks = [bytes([i % 251]) * 65536 for i in range(256)]
    expected = b"".join(chunks)
    async with trio.open_nursery() as nursery:
        async def write() -> None:
            lock = trio.Lock()
            for chunk in chunks:
                await tlswrite.send_all(server, chunk, lock)
        nursery.start_soon(write)
        received = await _read_exactly(client, len(expected), pause=0.001)
    assert received == expected


async def test_mixed_with_trio_send_all_the_records_stay_in_order(contexts) -> None:
    # Fast and trio writes on one connection (as a watch's chunks and Hypercorn's own writes):
    # every line arrives whole, and each writer's lines in its order.
    server, client = await _pair(contexts)
    lock = trio.Lock()  # the connection's send lock, as the server holds it

    async def writer(tag: int, fast: bool) -> None:
        for i in range(200):
            line = b"%d-%d:" % (tag, i) + b"x" * 3000 + b"\n"
            if fast:
                await tlswrite.send_all(server, line, lock)
            else:
                async with lock:
                    await server.send_all(line)
    size = 600 * 3001 + sum(len(b"%d-%d:" % (tag, i)) for tag in (1, 2, 3) for i in range(200))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer, 1, True)
        nursery.start_soon(writer, 2, False)
        nursery.start_soon(writer, 3, True)
        received = await _read_exactly(client, size)
    seen: dict[int, list[int]] = {1: [], 2: [], 3: []}
    for line in received.split(b"\n")[:-1]:
        head, _, body = line.partition(b":")
        assert body == b"x" * 3000
        tag, i = map(int, head.split(b"-"))
        seen[tag].append(i)
    assert seen == {tag: list(range(200)) for tag in (1, 2, 3)}
    assert len(set(received.split(b"\n")[:-1])) == 600


async def test_a_closed_peer_is_a_broken_resource(contexts) -> None:
    server, client = await _pair(contexts)
    await client.transport_stream.aclose()
    with pytest.raises(trio.BrokenResourceError):
        for _ in range(1000):  # the first writes may still fit in the kernel's buffer
            await tlswrite.send_all(server, b"y" * 65536, trio.Lock())
            await trio.sleep(0.001)


async def test_a_closed_stream_is_a_closed_resource(contexts) -> None:
    server, _ = await _pair(contexts)
    await server.transport_stream.aclose()
    with pytest.raises((trio.ClosedResourceError, trio.BrokenResourceError)):
        await tlswrite.send_all(server, b"z", trio.Lock())


async def test_write_now_writes_without_awaiting_and_declines_a_busy_stream(contexts) -> None:
    server, client = await _pair(contexts)
    lock = trio.Lock()
    await tlswrite.send_all(server, b"head:", lock)  # trio sends the held-back session tickets
    direct = tlswrite.DirectWriter.of(server, lock)
    assert direct is not None
    assert direct.write_now(b"now") is tlswrite.Wrote.ALL
    async with lock:  # another writer holds the connection: nothing is written
        assert direct.write_now(b"never") is tlswrite.Wrote.NOTHING
    async with server._inner_send_lock:  # trio is sending (e.g. for the receive side)
        assert direct.write_now(b"never") is tlswrite.Wrote.NOTHING
    assert await _read_exactly(client, 8) == b"head:now"


async def test_no_direct_writes_before_the_handshake_or_without_tls(contexts) -> None:
    server_context, _ = contexts
    left, right = trio.socket.socketpair()
    transport = trio.SocketStream(left)
    stream = trio.SSLStream(transport, server_context, server_side=True)
    direct = tlswrite.DirectWriter.of(stream, trio.Lock())
    assert direct is not None and direct.write_now(b"early") is tlswrite.Wrote.NOTHING
    assert tlswrite.DirectWriter.of(transport, trio.Lock()) is None  # not TLS: writers await
    left.close()
    right.close()


async def test_write_now_on_a_full_socket_queues_the_rest_in_order(contexts) -> None:
    # A reader that does not read: write_now fills the socket, the record that does not fit is
    # queued (and nothing more takes the fast path), then flush and trio's sends follow it.
    server, client = await _pair(contexts)
    lock = trio.Lock()
    direct = tlswrite.DirectWriter.of(server, lock)
    await tlswrite.send_all(server, b"head:", lock)
    chunks: list[bytes] = []
    wrote = tlswrite.Wrote.ALL
    while wrote is tlswrite.Wrote.ALL:
        chunks.append(bytes([len(chunks) % 251]) * 16384)
        wrote = direct.write_now(chunks[-1])
    assert wrote is tlswrite.Wrote.QUEUED
    assert not direct.idle()
    assert direct.write_now(b"later") is tlswrite.Wrote.NOTHING
    expected = b"head:" + b"".join(chunks) + b"tail"
    async with trio.open_nursery() as nursery:
        async def write() -> None:
            await tlswrite.flush(server, lock)
            await tlswrite.send_all(server, b"tail", lock)
        nursery.start_soon(write)
        received = await _read_exactly(client, len(expected), pause=0.001)
    assert received == expected
    assert direct.idle()


async def test_queued_bytes_go_first_when_trio_sends_next(contexts) -> None:
    # Without a flush, trio's own send (Hypercorn's end of the body) sends the queued rest first.
    server, client = await _pair(contexts)
    lock = trio.Lock()
    direct = tlswrite.DirectWriter.of(server, lock)
    await tlswrite.send_all(server, b"head:", lock)
    chunks: list[bytes] = []
    while not chunks or wrote is tlswrite.Wrote.ALL:
        chunks.append(bytes([65 + len(chunks) % 26]) * 16384)
        wrote = direct.write_now(chunks[-1])
    expected = b"head:" + b"".join(chunks) + b"end"
    async with trio.open_nursery() as nursery:
        async def write() -> None:
            async with lock:
                await server.send_all(b"end")
        nursery.start_soon(write)
        received = await _read_exactly(client, len(expected), pause=0.001)
    assert received == expected


async def test_write_now_to_a_closed_peer_reports_broken_on_the_next_send(contexts) -> None:
    server, client = await _pair(contexts)
    lock = trio.Lock()
    await tlswrite.send_all(server, b"head:", lock)
    direct = tlswrite.DirectWriter.of(server, lock)
    await client.transport_stream.aclose()
    with pytest.raises(trio.BrokenResourceError):
        for _ in range(1000):
            if direct.write_now(b"y" * 65536) is not tlswrite.Wrote.ALL:
                await tlswrite.flush(server, lock)
            await trio.sleep(0.001)
