"""The etcd transport's HTTP/2 framing against a peer that does what etcd cannot be made to do
on demand: padding, header blocks in CONTINUATION frames, a tiny flow-control window,
gRPC errors, refused streams, GOAWAY, garbage. The peer is the h2 library in server mode."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import pytest
import trio

from kernel_storage_etcd3 import transport
from kernel_storage_etcd3.etcdpb import kv as kv_pb2
from kernel_storage_etcd3.etcdpb import rpc as etcdrpc
from kernel_storage_etcd3.store import RANGE

Answer = Callable[["Peer", int, bytes], None]  # (peer, stream id, request message)


def grpc_message(message: etcdrpc.RangeResponse) -> bytes:
    body = message.SerializeToString()
    return b"\0" + len(body).to_bytes(4, "big") + body


def ok(peer: Peer, stream_id: int, *, value: bytes = b"v", pad: int = 0) -> None:
    """A whole answer: headers, the message in two (padded) DATA frames, trailers."""
    response = etcdrpc.RangeResponse(kvs=[kv_pb2.KeyValue(key=b"k", value=value)], count=1)
    data = grpc_message(response)
    conn = peer.h2
    conn.send_headers(stream_id, [(":status", "200"), ("content-type", "application/grpc")])
    conn.send_data(stream_id, data[:3], pad_length=pad or None)
    conn.send_data(stream_id, data[3:], pad_length=pad or None)
    conn.send_headers(stream_id, [("grpc-status", "0"), ("x-filler", "f" * 20000)],
                      end_stream=True)  # more than one 16 KiB frame: CONTINUATION


class Peer:
    """An HTTP/2 server on a local port; ``answer`` is called with each whole request."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.requests: dict[int, bytes] = {}
        self.connections = 0
        self.stream: trio.SocketStream | None = None
        self.first = self.extra = b""  # raw bytes to send before / after the next frames

    async def serve(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        self.stream = stream
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.h2.initiate_connection()
        await self.flush()
        while data := await stream.receive_some(65536):
            for event in self.h2.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    self.requests[event.stream_id] = self.requests.get(event.stream_id, b"") + event.data
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    self.answer(self, event.stream_id, self.requests.pop(event.stream_id)[5:])
            await self.flush()

    async def flush(self) -> None:
        assert self.stream is not None
        data = self.first + self.h2.data_to_send() + self.extra
        self.first = self.extra = b""
        await self.stream.send_all(data)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Answer], Awaitable[tuple[Peer, transport.Channel]]]]:
    async with trio.open_nursery() as nursery:
        async def start(answer: Answer) -> tuple[Peer, transport.Channel]:
            peer = Peer(answer)
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, peer.serve, 0, host="127.0.0.1"))
            port = listeners[0].socket.getsockname()[1]
            return peer, transport.Channel("127.0.0.1", port, None)
        yield start
        nursery.cancel_scope.cancel()


REQUEST = etcdrpc.RangeRequest(key=b"k")


async def test_padding_and_continuation(serve) -> None:
    peer, channel = await serve(lambda p, stream_id, request: ok(p, stream_id, pad=7))
    response = await channel.call(RANGE, REQUEST, 5)
    assert response.kvs[0].value == b"v"
    assert peer.connections == 1


async def test_a_request_larger_than_the_peers_window_waits_for_its_updates(serve) -> None:
    def answer(p: Peer, stream_id: int, request: bytes) -> None:
        ok(p, stream_id, value=b"%d" % len(etcdrpc.RangeRequest.FromString(request).key))

    peer, channel = await serve(answer)
    key = b"k" * 300_000  # over the default 64 KiB window many times, and over the frame size
    assert (await channel.call(RANGE, etcdrpc.RangeRequest(key=key), 5)).kvs[0].value == b"300000"
    peer.h2.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 100})
    await peer.flush()
    await trio.sleep(0.1)  # our SETTINGS ACK; new streams start with a 100-byte window
    assert (await channel.call(RANGE, etcdrpc.RangeRequest(key=key), 5)).kvs[0].value == b"300000"


async def test_grpc_errors_and_refused_streams(serve) -> None:
    """A refused stream is sent again once (etcd did not act on it)."""
    refused: list[int] = []

    def answer(p: Peer, stream_id: int, request: bytes) -> None:
        if etcdrpc.RangeRequest.FromString(request).key == b"refuse":
            refused.append(stream_id)
            p.h2.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
        else:  # trailers-only, with a percent-encoded message
            p.h2.send_headers(stream_id, [(":status", "200"), ("content-type", "application/grpc"),
                                          ("grpc-status", "9"), ("grpc-message", "a%20b%25")],
                              end_stream=True)

    peer, channel = await serve(answer)
    with pytest.raises(transport.CallError) as info:
        await channel.call(RANGE, REQUEST, 5)
    assert (info.value.code(), info.value.details()) == (transport.StatusCode.FAILED_PRECONDITION, "a b%")
    with pytest.raises(transport.CallError) as info:
        await channel.call(RANGE, etcdrpc.RangeRequest(key=b"refuse"), 5)
    assert info.value.code() == transport.StatusCode.UNAVAILABLE
    assert refused == [3, 5]  # sent twice; an answered error (stream 1) is not sent again


async def test_goaway_answers_what_the_peer_took_and_resends_the_rest(serve) -> None:
    held: list[tuple[int, int]] = []  # (connection, stream id) of each request

    def answer(p: Peer, stream_id: int, request: bytes) -> None:
        held.append((p.connections, stream_id))
        if len(held) == 2:  # going away: stream 1 will be answered, stream 3 never processed
            last = held[0][1]
            p.first = b"\0\0\x08\x07\0\0\0\0\0" + last.to_bytes(4, "big") + bytes(4)  # GOAWAY
            ok(p, last)
        elif len(held) > 2:
            ok(p, stream_id)

    peer, channel = await serve(answer)
    results: dict[int, object] = {}

    async def call(index: int) -> None:
        try:
            results[index] = (await channel.call(RANGE, REQUEST, 5)).kvs[0].value
        except transport.CallError as error:
            results[index] = error.code()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call, 0)
        await trio.sleep(0.05)
        nursery.start_soon(call, 1)
    assert results == {0: b"v", 1: b"v"}
    assert held == [(1, 1), (1, 3), (2, 1)]  # the second call again, on a new connection


async def test_garbage_fails_the_calls_and_not_the_trio_run(serve) -> None:
    def answer(p: Peer, stream_id: int, request: bytes) -> None:
        p.extra = b"\x00\x00\x04\x01\x04\x00\x00\x00\x01\xff\xff\xff\xff"  # HEADERS, bad HPACK

    _, channel = await serve(answer)
    with pytest.raises(transport.CallError) as info:
        await channel.call(RANGE, REQUEST, 5)
    assert info.value.code() == transport.StatusCode.UNAVAILABLE
    assert "reading from etcd" in info.value.details()
