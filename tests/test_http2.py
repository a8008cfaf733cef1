"""The kernel's HTTP/2 protocol (kernel/server/http2.py): request bodies and their flow control,
responses within the client's windows, streams the client resets, apps that fail, and requests
it cannot serve. A raw h2 client talks to ``serve`` with small ASGI apps; the GOAWAY, shutdown
and settings behaviours are in test_httpserver.py, with HTTP/1.1's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h2.errors
import h2.events
import h2.settings
import pytest
import trio

from test_httpserver import H2Client, _open, _receive, start_plain_server

WINDOW = 256 * 1024  # the server's stream window (HTTP2_FRAME_AND_STREAM_WINDOW)


class EchoApp:
    """Answers with what it read: the body's length, method and path. ``/slow`` waits for
    ``release`` before reading the body; ``/crash-*`` fail before or while responding;
    ``/short`` declares a Content-Length it does not send; ``/big`` answers 200 KB;
    ``/quiet`` waits for the client to go away (a watch)."""

    def __init__(self) -> None:
        self.release = trio.Event()
        self.disconnected = trio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if path == "/quiet":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            while (await receive())["type"] != "http.disconnect":
                pass
            self.disconnected.set()
            return
        if path == "/crash-before":
            raise RuntimeError("before the response")
        if path == "/slow":
            await self.release.wait()
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if path == "/crash-during":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
            raise RuntimeError("while responding")
        if path == "/short":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"10")]})
            await send({"type": "http.response.body", "body": b"12345"})
            return
        answer = (b"x" * 200_000 if path == "/big" else
                  json.dumps({"length": len(body), "method": scope["method"], "path": path,
                              "host": dict(scope["headers"])[b"host"].decode()}).encode())
        status = 204 if path == "/empty" else 200
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", b"%d" % len(answer))]})
        await send({"type": "http.response.body", "body": answer})


@pytest.fixture
async def echo(tmp_path: Path, nursery: trio.Nursery) -> tuple[EchoApp, int, str]:
    app = EchoApp()
    port, ca_file = await start_plain_server(tmp_path, nursery, app)
    return app, port, ca_file


def _request(client: H2Client, method: str, path: str, end_stream: bool) -> int:
    stream_id = client.conn.get_next_available_stream_id()
    client.conn.send_headers(stream_id, [(":method", method), (":path", path), (":scheme", "https"),
                                         (":authority", "example.test")], end_stream=end_stream)
    return stream_id


async def _response(client: H2Client, stream_id: int) -> tuple[dict[bytes, bytes], bytes, list[Any]]:
    """Read until the stream ends or is reset, returning credit for what arrives."""
    headers: dict[bytes, bytes] = {}
    body = b""
    events: list[Any] = []
    while True:
        data = await _receive(client.stream)
        assert data, f"connection closed before stream {stream_id} ended: {events}"
        for event in client.conn.receive_data(data):
            events.append(event)
            if getattr(event, "stream_id", None) != stream_id:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                headers = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                body += event.data
                client.conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                await client.flush()
                return headers, body, events
        await client.flush()


async def test_a_body_arriving_with_its_headers_reaches_the_app(echo: tuple[EchoApp, int, str]) -> None:
    # HEADERS and DATA in one write (h2load, nghttp, often client-go): Hypercorn's protocol in
    # the kernel dropped the DATA as belonging to no stream, so every such POST was a 400.
    _, port, ca_file = echo
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        stream_id = _request(client, "POST", "/things?x=1", end_stream=False)
        client.conn.send_data(stream_id, b"y" * 1000, end_stream=True)
        await client.flush()  # the preface, SETTINGS, HEADERS and DATA: one write
        headers, body, _ = await _response(client, stream_id)
    assert headers[b":status"] == b"200"
    assert json.loads(body) == {"length": 1000, "method": "POST", "path": "/things",
                                "host": "example.test"}


async def _send_body(client: H2Client, stream_id: int, body: bytes) -> None:
    """Send ``body`` as the server's windows allow, waiting for its WINDOW_UPDATEs."""
    while body:
        window = min(client.conn.local_flow_control_window(stream_id),
                     client.conn.max_outbound_frame_size)
        if window == 0:
            data = await _receive(client.stream)
            assert data, "connection closed while sending the body"
            client.conn.receive_data(data)
            continue
        client.conn.send_data(stream_id, body[:window], end_stream=len(body) <= window)
        body = body[window:]
        await client.flush()


async def test_a_body_larger_than_the_windows_arrives_whole(echo: tuple[EchoApp, int, str]) -> None:
    _, port, ca_file = echo
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        stream_id = _request(client, "PUT", "/", end_stream=False)
        await _send_body(client, stream_id, b"z" * (4 * WINDOW + 123))
        headers, body, _ = await _response(client, stream_id)
    assert headers[b":status"] == b"200" and json.loads(body)["length"] == 4 * WINDOW + 123


async def test_padding_is_not_body_and_its_credit_comes_back(echo: tuple[EchoApp, int, str]) -> None:
    # Padded DATA frames, some with no data at all: more flow-controlled bytes than a window,
    # so the client stalls unless the server returns the padding's credit too.
    _, port, ca_file = echo
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        stream_id = _request(client, "POST", "/", end_stream=False)
        sent = 0
        for i in range(3 * WINDOW // 256):
            while client.conn.local_flow_control_window(stream_id) < 400:
                client.conn.receive_data(await _receive(client.stream))
            data = b"" if i % 2 else b"p" * 100
            client.conn.send_data(stream_id, data, pad_length=255 - len(data) // 100)
            sent += len(data)
            await client.flush()
        client.conn.end_stream(stream_id)
        await client.flush()
        headers, body, _ = await _response(client, stream_id)
    assert headers[b":status"] == b"200" and json.loads(body)["length"] == sent


async def test_body_credit_returns_only_as_the_app_reads(echo: tuple[EchoApp, int, str]) -> None:
    # The server holds at most a stream window of unread body: a client cannot make it buffer
    # more by sending faster than the app reads.
    app, port, ca_file = echo
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        await client.flush()
        seen: list[type] = []  # the server's windows: its SETTINGS, and the connection's credit
        while not {h2.events.RemoteSettingsChanged, h2.events.WindowUpdated} <= set(seen):
            seen += map(type, client.conn.receive_data(await _receive(client.stream)))
        stream_id = _request(client, "POST", "/slow", end_stream=False)
        for _ in range(WINDOW // client.conn.max_outbound_frame_size):
            client.conn.send_data(stream_id, b"a" * client.conn.max_outbound_frame_size)
        await client.flush()
        assert client.conn.local_flow_control_window(stream_id) == 0
        with trio.move_on_after(0.5):  # what the server sends meanwhile: no credit
            while data := await _receive(client.stream):
                client.conn.receive_data(data)
        assert client.conn.local_flow_control_window(stream_id) == 0
        app.release.set()  # the app reads: credit comes back, the rest can be sent
        await _send_body(client, stream_id, b"a" * WINDOW)
        headers, body, _ = await _response(client, stream_id)
    assert headers[b":status"] == b"200" and json.loads(body)["length"] == 2 * WINDOW


async def test_a_response_waits_for_the_clients_window(echo: tuple[EchoApp, int, str]) -> None:
    _, port, ca_file = echo
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        client.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000})
        stream_id = _request(client, "GET", "/big", end_stream=True)
        await client.flush()
        headers, body, events = await _response(client, stream_id)
    frames = [e.flow_controlled_length for e in events if isinstance(e, h2.events.DataReceived)]
    assert headers[b":status"] == b"200" and body == b"x" * 200_000
    assert max(frames) <= 1000 and len(frames) >= 200


@pytest.mark.parametrize("method, path", [("HEAD", "/"), ("GET", "/empty")])
async def test_head_and_204_responses_have_no_body(echo: tuple[EchoApp, int, str], method: str,
                                                   path: str) -> None:
    _, port, ca_file = echo
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        stream_id = _request(client, method, path, end_stream=True)
        await client.flush()
        headers, body, events = await _response(client, stream_id)
    assert headers[b":status"] in (b"200", b"204") and body == b""
    assert not any(isinstance(e, h2.events.DataReceived) for e in events)
    assert b"date" in headers


async def test_a_stream_the_client_resets_ends_its_request(echo: tuple[EchoApp, int, str]) -> None:
    # client-go cancels a watch with RST_STREAM(CANCEL): the app must learn of it (a watch
    # that never returns holds its cache watcher), and the connection goes on serving.
    app, port, ca_file = echo
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        watch = _request(client, "GET", "/quiet", end_stream=True)
        await client.flush()
        while not any(isinstance(e, h2.events.ResponseReceived)
                      for e in client.conn.receive_data(await _receive(client.stream))):
            pass
        client.conn.reset_stream(watch, h2.errors.ErrorCodes.CANCEL)
        await client.flush()
        await app.disconnected.wait()
        stream_id = _request(client, "GET", "/after", end_stream=True)
        await client.flush()
        headers, body, _ = await _response(client, stream_id)
    assert headers[b":status"] == b"200" and json.loads(body)["path"] == "/after"


async def test_an_app_that_fails_gets_500_or_a_reset(echo: tuple[EchoApp, int, str]) -> None:
    _, port, ca_file = echo
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        before = _request(client, "GET", "/crash-before", end_stream=True)
        await client.flush()
        headers, body, _ = await _response(client, before)
        assert headers[b":status"] == b"500" and body == b"500 Internal Server Error"
        for path in ("/crash-during", "/short"):  # a body cut short: only a reset says so
            during = _request(client, "GET", path, end_stream=True)
            await client.flush()
            _, _, events = await _response(client, during)
            resets = [e for e in events if isinstance(e, h2.events.StreamReset)]
            assert [r.error_code for r in resets] == [h2.errors.ErrorCodes.INTERNAL_ERROR]
        after = _request(client, "GET", "/after", end_stream=True)  # the connection lives on
        await client.flush()
        headers, _, _ = await _response(client, after)
    assert headers[b":status"] == b"200"


@pytest.mark.parametrize("method, path", [(b"GET", "/ä".encode()), (b"G\xc3\xa4T", b"/")],
                         ids=["path", "method"])
async def test_a_path_or_method_that_is_not_ascii_is_400(echo: tuple[EchoApp, int, str],
                                                         method: bytes, path: bytes) -> None:
    # Hypercorn's stream raised on such a path, which ended the whole server.
    _, port, ca_file = echo
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        client.conn.config.validate_outbound_headers = False  # let the client send it
        stream_id = client.conn.get_next_available_stream_id()
        client.conn.send_headers(stream_id, [(b":method", method), (b":path", path),
                                             (b":scheme", b"https"), (b":authority", b"x")],
                                 end_stream=True)
        await client.flush()
        headers, body, _ = await _response(client, stream_id)
        assert headers[b":status"] == b"400" and body == b"400 Bad Request"
        again = H2Client(await _open(port, ca_file, "h2"))  # the server is still there
        _, events = await again.get("/")
    assert any(isinstance(e, h2.events.ResponseReceived) for e in events)


async def test_a_fault_in_one_connection_ends_only_that_connection(
        echo: tuple[EchoApp, int, str], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from kernel.server.http2 import HTTP2Protocol

    def broken(self: Any, *args: Any) -> None:
        raise RuntimeError("a bug in the protocol")

    _, port, ca_file = echo
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        with monkeypatch.context() as patched:
            patched.setattr(HTTP2Protocol, "_request", broken)
            _request(client, "GET", "/", end_stream=True)
            await client.flush()
            while await _receive(client.stream):  # the server closes this connection
                pass
        again = H2Client(await _open(port, ca_file, "h2"))
        _, events = await again.get("/")
    assert any(isinstance(e, h2.events.ResponseReceived) for e in events)
    assert "error serving a connection" in caplog.text


@pytest.mark.parametrize("table_size", [4096, 0], ids=["default-table", "no-table"])
async def test_response_headers_arrive_as_sent(tmp_path: Path, nursery: trio.Nursery,
                                               table_size: int) -> None:
    # The kernel's HPACK encoder (static table and literals, no dynamic table) as h2's decoder
    # reads it: names in the static table or not, values over 127 bytes (a multi-byte length),
    # repeated and unique values, on one connection; also for a client allowing no table.
    sent = [(b"content-type", b"application/json"), (b"cache-control", b"no-cache, private"),
            (b"x-kubernetes-pf-flowschema-uid", b"f" * 36), (b"x-long", b"v" * 300),
            (b"content-length", b"2")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        unique = [(b"audit-id", scope["path"].encode())]
        await send({"type": "http.response.start", "status": 404 if scope["path"] == "/b" else 200,
                    "headers": sent + unique})
        await send({"type": "http.response.body", "body": b"ok"})

    port, ca_file = await start_plain_server(tmp_path, nursery, app)
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        client.conn.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: table_size})
        for path, status in (("/a", b"200"), ("/b", b"404"), ("/c", b"200")):
            stream_id = _request(client, "GET", path, end_stream=True)
            await client.flush()
            headers, body, _ = await _response(client, stream_id)
            assert body == b"ok"
            assert headers.pop(b":status") == status and headers.pop(b"audit-id") == path.encode()
            assert headers.pop(b"date")
            assert headers == dict(sent)


async def test_a_direct_write_never_overtakes_a_body_waiting_for_credit(
        tmp_path: Path, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch) -> None:
    # The watch cache writes an event with the stream's body writer's write_now while it
    # dispatches; a body part already waiting for the client's credit must go first. Here the
    # cache's call comes at the worst moment: as the credit arrives, before the waiting send
    # resumes.
    from kernel.server import http2
    from kernel.server.http1 import BODY_WRITER

    writers: list[Any] = []
    direct: list[bool] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        writer = scope["extensions"][BODY_WRITER]()
        writers.append(writer)
        await writer(b"a" * 3000)  # the client's window is 1000: this waits for credit
        await writer(b"c" * 10)
        await send({"type": "http.response.body", "body": b""})

    window_update = http2.HTTP2Protocol._on_window_update

    def credit_then_dispatch(self: Any, stream_id: int, payload: bytes) -> None:
        window_update(self, stream_id, payload)
        if stream_id and writers:
            direct.append(writers[0].write_now(b"b" * 100))

    monkeypatch.setattr(http2.HTTP2Protocol, "_on_window_update", credit_then_dispatch)
    port, ca_file = await start_plain_server(tmp_path, nursery, app)
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        client.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000})
        stream_id = _request(client, "GET", "/", end_stream=True)
        await client.flush()
        headers, body, _ = await _response(client, stream_id)
    assert headers[b":status"] == b"200" and body == b"a" * 3000 + b"c" * 10
    assert direct and not any(direct)


async def test_a_direct_write_larger_than_a_frame_goes_out_as_several_data_frames(
        tmp_path: Path, nursery: trio.Nursery) -> None:
    # The watch cache hands a caught-up watcher every event due at once: more than the client's
    # largest frame goes out as several DATA frames in one write, whole and in order; more than
    # the stream's window is declined (the watch's task sends it as credit comes).
    from kernel.server.http1 import BODY_WRITER

    direct: list[bool] = []
    events = [bytes([ord("a") + i % 26]) * 1000 + b"\n" for i in range(40)]  # 40,040 bytes

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        writer = scope["extensions"][BODY_WRITER]()
        direct.append(writer.write_now(b"".join(events)))
        direct.append(writer.write_now(b"z" * 30000))  # the stream's window has 25,495 left
        await send({"type": "http.response.body", "body": b""})

    port, ca_file = await start_plain_server(tmp_path, nursery, app)
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        stream_id = _request(client, "GET", "/", end_stream=True)
        await client.flush()
        headers, body, received = await _response(client, stream_id)
    assert headers[b":status"] == b"200" and body == b"".join(events)
    assert direct == [True, False]
    sizes = [len(event.data) for event in received if isinstance(event, h2.events.DataReceived)
             and event.data]
    assert sizes == [16384, 16384, 40040 - 2 * 16384]
