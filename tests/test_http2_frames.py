"""The kernel's HTTP/2 framing against RFC 9113's rules (kernel/server/http2.py): frames that
break the protocol end the connection with GOAWAY and the right code; malformed requests reset
only their stream; settings, PING, trailers, CONTINUATION, header lists over the limit, the
stream limit and a client's GOAWAY. Frames are built by hyperframe and header blocks by hpack
(the h2 library's), not by the code under test, and sent raw over TLS to ``serve``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hpack
import pytest
import trio
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, PriorityFrame, PushPromiseFrame, RstStreamFrame,
                              SettingsFrame, WindowUpdateFrame)

from test_http2 import EchoApp
from test_httpserver import _open, _receive, start_plain_server

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
WINDOW = 256 * 1024
# RFC 9113 section 7
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, STREAM_CLOSED, FRAME_SIZE_ERROR = 0, 1, 3, 5, 6
REFUSED_STREAM, COMPRESSION_ERROR, ENHANCE_YOUR_CALM = 7, 9, 11
GET = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"example.test")]


class RawClient:
    """An HTTP/2 client that sends what it is told, frame by frame."""

    def __init__(self, stream: trio.SSLStream) -> None:
        self.stream = stream
        self.encoder = hpack.Encoder()  # one per connection: the server's decoder follows it
        self.decoder = hpack.Decoder()
        self.buffer = b""
        self.kept: list[Frame] = []  # read while waiting for another stream's frames

    async def start(self, settings: dict[int, int] | None = None) -> None:
        await self.send(PREFACE, SettingsFrame(0, settings=settings or {}))

    async def send(self, *parts: bytes | Frame) -> None:
        await self.stream.send_all(b"".join(
            part if isinstance(part, bytes) else part.serialize() for part in parts))

    def headers(self, stream_id: int, fields: list[tuple[bytes, bytes]], *,
                end_stream: bool = True) -> HeadersFrame:
        frame = HeadersFrame(stream_id, self.encoder.encode(fields))
        frame.flags.add("END_HEADERS")
        if end_stream:
            frame.flags.add("END_STREAM")
        return frame

    async def send_block(self, stream_id: int, block: bytes, piece: int) -> None:
        """A request without body whose header block goes in HEADERS and CONTINUATION frames."""
        pieces = [block[at:at + piece] for at in range(0, len(block), piece)]
        await self.send(HeadersFrame(stream_id, pieces[0], flags=["END_STREAM"]),
                        *[ContinuationFrame(stream_id, p) for p in pieces[1:-1]],
                        ContinuationFrame(stream_id, pieces[-1], flags=["END_HEADERS"]))

    async def frame(self) -> Frame | None:
        """The server's next frame (SETTINGS acknowledged), or None once it closed."""
        while True:
            if len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) >= 9 + length:
                    frame.parse_body(memoryview(self.buffer[9:9 + length]))
                    self.buffer = self.buffer[9 + length:]
                    if isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
                        await self.send(SettingsFrame(0, flags=["ACK"]))
                    return frame
            data = await _receive(self.stream)
            if not data:
                return None
            self.buffer += data

    async def until(self, kind: type, stream_id: int | None = None) -> Frame:
        while True:
            frame = await self.frame()
            assert frame is not None, f"closed before a {kind.__name__}"
            if isinstance(frame, kind) and stream_id in (None, frame.stream_id):
                return frame

    async def response(self, stream_id: int) -> tuple[dict[bytes, bytes], bytes]:
        """The stream's response headers and body (credit returned for what arrives)."""
        headers: dict[bytes, bytes] = {}
        body = b""
        while True:
            mine = [f for f in self.kept if f.stream_id == stream_id]
            if mine:
                frame = mine[0]
                self.kept.remove(frame)
            else:
                frame = await self.frame()
            assert frame is not None, f"closed before stream {stream_id} ended"
            if frame.stream_id != stream_id:
                if frame.stream_id:
                    self.kept.append(frame)  # another stream's, for its own response()
                continue
            if isinstance(frame, RstStreamFrame):
                raise AssertionError(f"stream {stream_id} reset: {frame.error_code}")
            if isinstance(frame, HeadersFrame):
                headers = dict(self.decoder.decode(frame.data, raw=True))
            elif isinstance(frame, DataFrame):
                body += frame.data
                if frame.flow_controlled_length:
                    await self.send(WindowUpdateFrame(0, window_increment=frame.flow_controlled_length),
                                    WindowUpdateFrame(stream_id, window_increment=frame.flow_controlled_length))
            if "END_STREAM" in frame.flags:
                return headers, body

    async def goaway(self) -> GoAwayFrame:
        frame = await self.until(GoAwayFrame)
        assert await self.frame() is None, "the connection stays open after GOAWAY"  # type: ignore[func-returns-value]
        return frame  # type: ignore[return-value]


class HeaderEcho(EchoApp):
    """EchoApp, and ``/headers`` answers with the request's headers."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] != "/headers":
            await super().__call__(scope, receive, send)
            return
        body = json.dumps([[n.decode(), v.decode()] for n, v in scope["headers"]]).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def server(tmp_path: Path, nursery: trio.Nursery) -> tuple[HeaderEcho, int, str]:
    app = HeaderEcho()
    port, ca_file = await start_plain_server(tmp_path, nursery, app)
    return app, port, ca_file


async def _client(server: tuple[HeaderEcho, int, str], settings: dict[int, int] | None = None) -> RawClient:
    client = RawClient(await _open(server[1], server[2], "h2"))
    await client.start(settings)
    return client


async def _served(server: tuple[HeaderEcho, int, str]) -> None:
    """A new connection gets an answer: the server is still there."""
    client = await _client(server)
    await client.send(client.headers(1, [*GET, (b":path", b"/alive")]))
    headers, _ = await client.response(1)
    assert headers[b":status"] == b"200"


def _data(stream_id: int, data: bytes, *flags: str) -> DataFrame:
    return DataFrame(stream_id, data, flags=list(flags))


def _raw_frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big") + payload


# What a client sends after its preface and SETTINGS, and the GOAWAY code it gets.
CONNECTION_ERRORS = {
    "data-on-stream-0": (lambda c: [_raw_frame(0, 0, 0, b"x")], PROTOCOL_ERROR),
    "headers-on-even-stream": (lambda c: [c.headers(2, [*GET, (b":path", b"/")])], PROTOCOL_ERROR),
    "data-on-idle-stream": (lambda c: [_data(5, b"x")], PROTOCOL_ERROR),
    "frame-over-max-size": (lambda c: [(WINDOW + 1).to_bytes(3, "big") + b"\0\0\0\0\0\1"],
                            FRAME_SIZE_ERROR),  # its header is enough
    "ping-of-7-bytes": (lambda c: [_raw_frame(6, 0, 0, b"x" * 7)], FRAME_SIZE_ERROR),
    "window-update-of-0": (lambda c: [_raw_frame(8, 0, 0, b"\0\0\0\0")], PROTOCOL_ERROR),
    "connection-window-over-2^31": (lambda c: [WindowUpdateFrame(0, window_increment=2**31 - 1)],
                                    FLOW_CONTROL_ERROR),
    "push-promise": (lambda c: [PushPromiseFrame(1, promised_stream_id=2, data=b"",
                                                 flags=["END_HEADERS"])], PROTOCOL_ERROR),
    "continuation-without-headers": (lambda c: [ContinuationFrame(1, b"", flags=["END_HEADERS"])],
                                     PROTOCOL_ERROR),
    "frame-between-headers-and-continuation": (
        lambda c: [HeadersFrame(1, c.encoder.encode([*GET, (b":path", b"/")])), PingFrame(0, b"x" * 8)],
        PROTOCOL_ERROR),
    "undecodable-header-block": (lambda c: [HeadersFrame(1, b"\x80", flags=["END_HEADERS"])],
                                 COMPRESSION_ERROR),  # index 0
    "header-index-past-the-tables": (lambda c: [HeadersFrame(1, b"\xff\x80\x01", flags=["END_HEADERS"])],
                                     COMPRESSION_ERROR),
    "truncated-header-block": (lambda c: [HeadersFrame(1, b"\x40\x05ab", flags=["END_HEADERS"])],
                               COMPRESSION_ERROR),
    "table-size-over-the-setting": (lambda c: [HeadersFrame(1, b"\x3f\xe2\x1f", flags=["END_HEADERS"])],
                                    COMPRESSION_ERROR),  # 4097 > 4096
    "initial-window-over-2^31": (lambda c: [SettingsFrame(0, settings={4: 2**31})], FLOW_CONTROL_ERROR),
    "max-frame-size-under-16384": (lambda c: [SettingsFrame(0, settings={5: 1000})], PROTOCOL_ERROR),
    "settings-of-5-bytes": (lambda c: [_raw_frame(4, 0, 0, b"\0" * 5)], FRAME_SIZE_ERROR),
    "rst-stream-on-idle-stream": (lambda c: [RstStreamFrame(7, error_code=8)], PROTOCOL_ERROR),
    "padding-longer-than-the-frame": (lambda c: [_raw_frame(1, 0x0C, 1, b"\x05ab")], PROTOCOL_ERROR),
}


@pytest.mark.parametrize("case", CONNECTION_ERRORS, ids=list(CONNECTION_ERRORS))
async def test_a_frame_breaking_the_protocol_ends_the_connection_with_goaway(
        server: tuple[HeaderEcho, int, str], case: str) -> None:
    frames, code = CONNECTION_ERRORS[case]
    with trio.fail_after(10):
        client = await _client(server)
        await client.send(*frames(client))
        goaway = await client.goaway()
        assert goaway.error_code == code, goaway.additional_data
        await _served(server)


async def test_headers_again_on_a_stream(server: tuple[HeaderEcho, int, str]) -> None:
    # On a half-closed stream (its request whole, its response not over): that stream is reset;
    # on a closed one: the connection ends.
    with trio.fail_after(10):
        client = await _client(server)
        await client.send(client.headers(1, [*GET, (b":path", b"/slow")]),
                          client.headers(1, [*GET, (b":path", b"/slow")]))
        assert (await client.until(RstStreamFrame, 1)).error_code == STREAM_CLOSED
        await client.send(client.headers(3, [*GET, (b":path", b"/")]))
        assert (await client.response(3))[0][b":status"] == b"200"
        await client.send(client.headers(3, [*GET, (b":path", b"/")]))
        assert (await client.goaway()).error_code == PROTOCOL_ERROR


async def test_the_first_frame_must_be_settings(server: tuple[HeaderEcho, int, str]) -> None:
    with trio.fail_after(10):
        client = RawClient(await _open(server[1], server[2], "h2"))
        await client.send(PREFACE, PingFrame(0, b"x" * 8))
        assert (await client.goaway()).error_code == PROTOCOL_ERROR


async def test_a_wrong_preface_ends_the_connection(server: tuple[HeaderEcho, int, str]) -> None:
    with trio.fail_after(10):
        client = RawClient(await _open(server[1], server[2], "h2"))
        await client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await client.goaway()).error_code == PROTOCOL_ERROR


MALFORMED = {
    "uppercase-name": [*GET, (b":path", b"/"), (b"X-Upper", b"1")],
    "connection-header": [*GET, (b":path", b"/"), (b"connection", b"keep-alive")],
    "te-not-trailers": [*GET, (b":path", b"/"), (b"te", b"gzip")],
    "pseudo-after-regular": [*GET, (b"accept", b"*/*"), (b":path", b"/")],
    "missing-scheme": [(b":method", b"GET"), (b":authority", b"x"), (b":path", b"/")],
    "missing-path": [*GET],
    "empty-path": [*GET, (b":path", b"")],
    "path-without-slash": [*GET, (b":path", b"api/v1/namespaces")],
    "absolute-form-path": [*GET, (b":path", b"https://example.test/api")],
    "repeated-path": [*GET, (b":path", b"/"), (b":path", b"/other")],
    "unknown-pseudo": [*GET, (b":path", b"/"), (b":protocol", b"websocket")],
    "response-pseudo": [*GET, (b":path", b"/"), (b":status", b"200")],
    "newline-in-value": [*GET, (b":path", b"/"), (b"x-a", b"1\r\nx-b: 2")],
    "leading-space-in-value": [*GET, (b":path", b"/"), (b"x-a", b" 1")],
    "space-in-name": [*GET, (b":path", b"/"), (b"x a", b"1")],
    "empty-name": [*GET, (b":path", b"/"), (b"", b"1")],
}


async def test_malformed_requests_reset_only_their_stream(server: tuple[HeaderEcho, int, str]) -> None:
    # Each is reset (PROTOCOL_ERROR) and the connection goes on: every block is still decoded,
    # so the client's dynamic table and the server's stay in step for the requests after it.
    with trio.fail_after(10):
        client = await _client(server)
        stream_id = 1
        for case, fields in MALFORMED.items():
            await client.send(client.headers(stream_id, fields))
            reset = await client.until(RstStreamFrame, stream_id)
            assert reset.error_code == PROTOCOL_ERROR, case
            stream_id += 2
            await client.send(client.headers(stream_id, [*GET, (b":path", b"/headers"),
                                                         (b"x-after", case.encode())]))
            headers, body = await client.response(stream_id)
            assert headers[b":status"] == b"200" and ["x-after", case] in json.loads(body), case
            stream_id += 2


async def test_fields_arrive_as_sent_with_cookies_joined(server: tuple[HeaderEcho, int, str]) -> None:
    # Literal, indexed and Huffman-coded fields across requests (the dynamic table in use),
    # repeated names, and cookies split in several fields joined again (RFC 9113 8.2.3).
    fields = [(b"accept", b"application/json"), (b"x-multi", b"a"), (b"x-multi", b"b"),
              (b"cookie", b"a=1"), (b"cookie", b"b=2"), (b"user-agent", b"kubectl/v1.32.0 (linux)"),
              (b"authorization", b"Bearer " + b"t" * 900)]
    with trio.fail_after(10):
        client = await _client(server)
        for stream_id in (1, 3, 5):
            await client.send(client.headers(stream_id, [*GET, (b":path", b"/headers"), *fields]))
            headers, body = await client.response(stream_id)
            assert json.loads(body) == [
                ["host", "example.test"], ["accept", "application/json"], ["x-multi", "a"],
                ["x-multi", "b"], ["user-agent", "kubectl/v1.32.0 (linux)"],
                ["authorization", "Bearer " + "t" * 900], ["cookie", "a=1; b=2"]]


async def test_ping_is_answered(server: tuple[HeaderEcho, int, str]) -> None:
    with trio.fail_after(10):
        client = await _client(server)
        await client.send(PingFrame(0, b"12345678"))
        pong = await client.until(PingFrame)
    assert "ACK" in pong.flags and pong.opaque_data == b"12345678"


async def test_trailers_end_the_request_body(server: tuple[HeaderEcho, int, str]) -> None:
    with trio.fail_after(10):
        client = await _client(server)
        await client.send(client.headers(1, [(b":method", b"POST"), *GET[1:], (b":path", b"/t")],
                                         end_stream=False),
                          _data(1, b"abc"), _data(1, b"de"),
                          client.headers(1, [(b"x-checksum", b"1")], end_stream=True))
        headers, body = await client.response(1)
    assert headers[b":status"] == b"200" and json.loads(body)["length"] == 5


async def test_trailers_with_a_pseudo_header_reset_the_stream(server: tuple[HeaderEcho, int, str]) -> None:
    with trio.fail_after(10):
        client = await _client(server)
        await client.send(client.headers(1, [(b":method", b"POST"), *GET[1:], (b":path", b"/slow")],
                                         end_stream=False),
                          client.headers(1, [(b":path", b"/x")], end_stream=True))
        assert (await client.until(RstStreamFrame, 1)).error_code == PROTOCOL_ERROR
        await client.send(client.headers(3, [*GET, (b":path", b"/")]))
        headers, _ = await client.response(3)
    assert headers[b":status"] == b"200"


async def test_data_after_end_stream_resets_the_stream(server: tuple[HeaderEcho, int, str]) -> None:
    with trio.fail_after(10):
        client = await _client(server)
        await client.send(client.headers(1, [*GET, (b":path", b"/slow")]), _data(1, b"late"))
        assert (await client.until(RstStreamFrame, 1)).error_code == STREAM_CLOSED


async def test_a_stream_window_overrun_resets_the_stream(server: tuple[HeaderEcho, int, str]) -> None:
    # The server's SETTINGS give each stream 256 KiB; a client sending more breaks flow control.
    with trio.fail_after(10):
        client = await _client(server)
        await client.until(WindowUpdateFrame, 0)  # the server's settings and connection window
        chunk = b"o" * (64 * 1024)
        await client.send(client.headers(1, [(b":method", b"POST"), *GET[1:], (b":path", b"/slow")],
                                         end_stream=False),
                          *[_data(1, chunk) for _ in range(5)])
        assert (await client.until(RstStreamFrame, 1)).error_code == FLOW_CONTROL_ERROR
        await client.send(client.headers(3, [*GET, (b":path", b"/")]))
        headers, _ = await client.response(3)
    assert headers[b":status"] == b"200"


async def test_a_header_block_in_continuation_frames_arrives_whole(
        server: tuple[HeaderEcho, int, str]) -> None:
    big = b"v" * 600_000  # over two of the server's 256 KiB frames
    with trio.fail_after(10):
        client = await _client(server)
        block = client.encoder.encode([*GET, (b":path", b"/headers"), (b"x-big", big)], huffman=False)
        await client.send_block(1, block, 100_000)
        headers, body = await client.response(1)
    assert headers[b":status"] == b"200" and ["x-big", big.decode()] in json.loads(body)


async def test_a_header_list_over_the_limit_is_431(server: tuple[HeaderEcho, int, str]) -> None:
    # As Go answers (its limit: 1 MiB + 320); the block is still decoded, so the connection
    # goes on with the same dynamic table.
    with trio.fail_after(10):
        client = await _client(server)
        block = client.encoder.encode([*GET, (b":path", b"/"), (b"x-huge", b"h" * ((1 << 20) + 400))],
                                      huffman=False)
        await client.send_block(1, block, 200_000)
        headers, body = await client.response(1)
        assert headers[b":status"] == b"431" and body == b"431 Request Header Fields Too Large"
        await client.send(client.headers(3, [*GET, (b":path", b"/headers")]))
        headers, _ = await client.response(3)
    assert headers[b":status"] == b"200"


async def test_streams_over_the_limit_are_refused(server: tuple[HeaderEcho, int, str]) -> None:
    # 100 streams (kube's limit) whose apps wait; the 101st is reset, the others still served.
    app = server[0]
    with trio.fail_after(10):
        client = await _client(server)
        await client.until(WindowUpdateFrame, 0)  # the server's SETTINGS, acknowledged
        opened = [client.headers(2 * i + 1, [*GET, (b":path", b"/slow")]) for i in range(101)]
        await client.send(*opened)
        reset = await client.until(RstStreamFrame)
        assert reset.stream_id == 201 and reset.error_code == PROTOCOL_ERROR
        app.release.set()
        for i in range(100):
            headers, _ = await client.response(2 * i + 1)
            assert headers[b":status"] == b"200"


async def test_a_new_initial_window_moves_open_streams_windows(
        server: tuple[HeaderEcho, int, str]) -> None:
    # A response waits while the stream window is 0, and goes on once SETTINGS raise it (6.9.2).
    with trio.fail_after(10):
        client = await _client(server, {4: 0})
        await client.send(client.headers(1, [*GET, (b":path", b"/big")]))
        await client.until(HeadersFrame, 1)
        with trio.move_on_after(0.3):
            frame = await client.until(DataFrame, 1)
            raise AssertionError(f"DATA sent without a window: {frame}")
        await client.send(SettingsFrame(0, settings={4: 300_000}),
                          WindowUpdateFrame(0, window_increment=1_000_000))
        body = b""
        while len(body) < 200_000:
            body += (await client.until(DataFrame, 1)).data
    assert body == b"x" * 200_000


async def test_priority_frames_are_accepted_and_a_self_dependency_resets(
        server: tuple[HeaderEcho, int, str]) -> None:
    with trio.fail_after(10):
        client = await _client(server)
        await client.send(PriorityFrame(9, depends_on=0, stream_weight=16),  # idle: allowed
                          PriorityFrame(11, depends_on=11))
        assert (await client.until(RstStreamFrame, 11)).error_code == PROTOCOL_ERROR
        await client.send(client.headers(13, [*GET, (b":path", b"/")]))
        headers, _ = await client.response(13)
    assert headers[b":status"] == b"200"


async def test_a_client_goaway_lets_its_streams_finish(server: tuple[HeaderEcho, int, str]) -> None:
    app = server[0]
    with trio.fail_after(10):
        client = await _client(server)
        await client.send(client.headers(1, [*GET, (b":path", b"/slow")]),
                          GoAwayFrame(0, last_stream_id=0, error_code=NO_ERROR))
        await trio.sleep(0.1)
        app.release.set()
        headers, _ = await client.response(1)
        assert headers[b":status"] == b"200"
        goaway = await client.goaway()
    assert goaway.error_code == NO_ERROR and goaway.last_stream_id == 1


@pytest.fixture
async def small_limit(tmp_path: Path, nursery: trio.Nursery) -> tuple[HeaderEcho, int, str]:
    """A server whose header-list limit is 1000 bytes."""
    from kernel.server.httpserver import hypercorn_config

    config = hypercorn_config()
    config.h2_max_header_list_size = 1000
    app = HeaderEcho()
    port, ca_file = await start_plain_server(tmp_path, nursery, app, config=config)
    return app, port, ca_file


async def test_header_blocks_far_over_the_limit_end_the_connection(
        small_limit: tuple[HeaderEcho, int, str]) -> None:
    # Up to twice the limit a request gets 431 (its block decoded to the end); past that the
    # block is not decoded further, and a header block longer than the limit and a margin (a
    # CONTINUATION flood) is not read further: ENHANCE_YOUR_CALM either way.
    with trio.fail_after(10):
        client = await _client(small_limit)
        await client.send_block(1, client.encoder.encode([*GET, (b":path", b"/"), (b"x-a", b"a" * 1200)]), 500)
        headers, _ = await client.response(1)
        assert headers[b":status"] == b"431"
        await client.send(HeadersFrame(3, b"\x82" * 5000, flags=["END_HEADERS", "END_STREAM"]))
        assert (await client.goaway()).error_code == ENHANCE_YOUR_CALM  # 5000 fields
        flood = await _client(small_limit)
        await flood.send(HeadersFrame(1, flood.encoder.encode([*GET, (b":path", b"/")])),
                         *[ContinuationFrame(1, b"\x82" * 1000) for _ in range(70)])
        assert (await flood.goaway()).error_code == ENHANCE_YOUR_CALM
