"""kernel/server/http1.py: HTTP/1.1 requests and responses over real TLS connections, spoken to
byte by byte, for what a client sees and what the ASGI app is given."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import h11
import pytest
import trio

from test_httpserver import _open, _receive, start_plain_server


class App:
    """Routes by path; records what each request gave the app."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.disconnected = trio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        self.requests.append({"path": path, "method": scope["method"]})

        async def respond(status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-length", b"%d" % len(body)), *headers]})
            await send({"type": "http.response.body", "body": body})

        if path == "/echo":
            body, messages = b"", 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    self.requests[-1]["disconnected"] = True
                    return
                body += message["body"]
                messages += 1
                if not message["more_body"]:
                    break
            await respond(200, json.dumps({
                "method": scope["method"], "path": path,
                "query": scope["query_string"].decode(), "version": scope["http_version"],
                "headers": [[n.decode(), v.decode()] for n, v in scope["headers"]],
                "length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                "messages": messages, "tls": "tls" in scope["extensions"],
            }).encode(), (b"content-type", b"application/json"))
        elif path == "/hello":
            await respond(200, b"hello")
        elif path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for part in (b"a", b"", b"bc"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/fail-before":
            raise RuntimeError("the app failed before its response")
        elif path == "/fail-after":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
            raise RuntimeError("the app failed during its response")
        elif path == "/too-long":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"12345"})
        elif path == "/split":
            await respond(200, b"ok", (b"x-value", b"a\r\nx-injected: 1"))
        elif path == "/wait-disconnect":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"started", "more_body": True})
            while (await receive())["type"] != "http.disconnect":
                pass
            self.disconnected.set()
        else:
            await respond(404, b"not found")


@pytest.fixture
async def served(tmp_path: Path, nursery: trio.Nursery) -> tuple[App, int, str]:
    app = App()
    port, ca_file = await start_plain_server(tmp_path, nursery, app)
    return app, port, ca_file


Response = tuple[int, dict[str, str], bytes]


async def _read(stream: trio.SSLStream, *methods: str,
                client: h11.Connection | None = None) -> tuple[list[Response], bool]:
    """The responses to requests of ``methods`` (already sent), as h11, a strict client, reads
    them, and whether the server then closed the connection (waited for only when the last
    response said it would)."""
    client = client or h11.Connection(h11.CLIENT)
    responses: list[Response] = []
    closed = False

    async def next_event() -> Any:
        nonlocal closed
        while (event := client.next_event()) is h11.NEED_DATA:
            data = await _receive(stream)
            closed = data == b""
            client.receive_data(data)
        return event

    for method in methods:
        if client.our_state is h11.IDLE:  # announce the request, for how its answer is framed
            client.send(h11.Request(method=method, target="/", headers=[("host", "localhost")]))
            client.send(h11.EndOfMessage())
        current: list[Any] = []
        while not isinstance(event := await next_event(), h11.EndOfMessage):
            if isinstance(event, h11.Response):
                current = [event.status_code, {n.decode(): v.decode() for n, v in event.headers}, b""]
            elif isinstance(event, h11.Data):
                current[2] += event.data
        responses.append((current[0], current[1], current[2]))
        if client.their_state is h11.DONE:
            client.start_next_cycle()
    if client.their_state is h11.MUST_CLOSE:
        closed = isinstance(await next_event(), h11.ConnectionClosed)
    return responses, closed


async def _exchange(port: int, ca_file: str, raw: bytes,
                    *methods: str) -> tuple[list[Response], bool]:
    """Send ``raw`` on a new connection: the responses to the requests of ``methods`` in it, and
    whether the server then closed the connection (see :func:`_read`)."""
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(raw)
        return await _read(stream, *methods)


def _request(method: str, path: str, body: bytes = b"", *headers: str) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: localhost", *headers]
    if body:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def test_pipelined_requests_are_answered_in_order_on_one_connection(served) -> None:
    app, port, ca_file = served
    # Three requests in one write, the middle one with a body.
    responses, closed = await _exchange(
        port, ca_file, _request("GET", "/echo?n=0", b"", "X-Padded: \t v w \t")
        + _request("POST", "/echo?n=1", b"x" * 10)
        + _request("GET", "/echo?n=2"), "GET", "POST", "GET")
    assert [json.loads(body)["query"] for _, _, body in responses] == ["n=0", "n=1", "n=2"]
    assert [json.loads(body)["length"] for _, _, body in responses] == [0, 10, 0]
    assert all(status == 200 and "connection" not in headers for status, headers, _ in responses)
    assert not closed
    first = json.loads(responses[0][2])
    assert first["version"] == "1.1" and first["tls"]
    assert ["host", "localhost"] in first["headers"]  # names lowercase, as ASGI requires
    assert ["x-padded", "v w"] in first["headers"]  # values without the whitespace around them


@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
    b"GET /\xff HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: localhost\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : localhost\r\n\r\n",  # whitespace before the colon
    b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n folded\r\n\r\n",  # obsolete line folding
    # Request smuggling: a body framed two ways.
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd",
], ids=["header", "no-host", "non-ascii-path", "version", "space-before-colon", "folded",
        "length-and-chunked", "two-lengths"])
async def test_malformed_requests_get_gos_400_and_never_reach_the_app(served, raw: bytes) -> None:
    app, port, ca_file = served
    responses, closed = await _exchange(port, ca_file, raw, "GET")
    assert responses == [(400, {"content-type": "text/plain; charset=utf-8", "connection": "close",
                                "content-length": "15"}, b"400 Bad Request")]
    assert closed
    assert app.requests == []


async def test_a_malformed_chunked_body_disconnects_the_app_and_gets_400(served) -> None:
    app, port, ca_file = served
    responses, closed = await _exchange(port, ca_file, b"POST /echo HTTP/1.1\r\nHost: localhost\r\n"
                                        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n",
                                        "POST")
    assert [status for status, _, _ in responses] == [400] and closed
    assert app.requests == [{"path": "/echo", "method": "POST", "disconnected": True}]


async def test_chunked_and_large_request_bodies_reach_the_app_whole(served) -> None:
    app, port, ca_file = served
    big = bytes(range(256)) * (3 * 4096)  # 3 MiB: well over what is buffered for the app
    with trio.fail_after(20):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked"
                              b"\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\n\r\n")
        (chunked,), _ = await _read(stream, "POST")

        async def send_big() -> None:
            await stream.send_all(_request("PUT", "/echo", b"")[:-2] + b"Content-Length: %d\r\n\r\n"
                                  % len(big))
            for at in range(0, len(big), 100_000):
                await stream.send_all(big[at:at + 100_000])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_big)
            (large,), closed = await _read(stream, "PUT")
    assert json.loads(chunked[2])["sha256"] == hashlib.sha256(b"hello!").hexdigest()
    echoed = json.loads(large[2])
    assert (echoed["length"], echoed["sha256"]) == (len(big), hashlib.sha256(big).hexdigest())
    assert echoed["messages"] > 1  # delivered as it arrived, not gathered first
    assert not closed


async def test_expect_100_continue_is_answered_when_the_app_reads_the_body(served) -> None:
    app, port, ca_file = served
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                              b"Expect: 100-continue\r\n\r\n")
        assert await _receive(stream) == b"HTTP/1.1 100 Continue\r\n\r\n"
        await stream.send_all(b"hello")
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method="POST", target="/echo", headers=[
            ("host", "localhost"), ("content-length", "5"), ("expect", "100-continue")]))
        client.send(h11.Data(data=b"hello"))
        client.send(h11.EndOfMessage())
        client.receive_data(b"HTTP/1.1 100 Continue\r\n\r\n")
        assert isinstance(client.next_event(), h11.InformationalResponse)
        (response,), _ = await _read(stream, "POST", client=client)
    assert json.loads(response[2])["length"] == 5
    # The app that answers without reading the body sends no 100 (the client need not send it).
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(b"POST /hello HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                              b"Expect: 100-continue\r\n\r\n")
        (response,), closed = await _read(stream, "POST")
    assert response[:1] == (200,) and response[1]["connection"] == "close" and closed


async def test_head_204_and_streamed_responses_are_framed_as_http_1_1_requires(served) -> None:
    app, port, ca_file = served
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(_request("HEAD", "/hello") + _request("GET", "/stream")
                              + _request("GET", "/hello"))
        (head, streamed, after), closed = await _read(stream, "HEAD", "GET", "GET")
    assert head == (200, {"content-length": "5", "date": head[1]["date"]}, b"")
    assert streamed[1]["transfer-encoding"] == "chunked" and streamed[2] == b"abc"
    assert after[2] == b"hello" and not closed  # nothing stray between the responses


async def test_http_1_0_gets_a_body_ended_by_the_close(served) -> None:
    app, port, ca_file = served
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(b"GET /stream HTTP/1.0\r\n\r\n")
        response = b""
        while chunk := await _receive(stream):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"transfer-encoding" not in head and b"connection: close" in head
    assert body == b"abc"


@pytest.mark.parametrize("path, status, body", [
    ("/fail-before", 500, b"500 Internal Server Error"),
    ("/split", 500, b"500 Internal Server Error"),  # no response splitting: the app's error
])
async def test_an_app_error_before_the_response_is_a_500_and_a_close(served, path: str, status: int,
                                                                      body: bytes) -> None:
    app, port, ca_file = served
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(_request("GET", path))
        raw = b""
        while chunk := await _receive(stream):
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 %d " % status) and raw.endswith(body)
    assert b"x-injected" not in raw


@pytest.mark.parametrize("path", ["/fail-after", "/too-long"])
async def test_a_response_cut_short_closes_the_connection(served, path: str) -> None:
    app, port, ca_file = served
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(_request("GET", path) + _request("GET", "/hello"))
        with pytest.raises(h11.RemoteProtocolError):  # the body never completes
            await _read(stream, "GET")
    assert [r["path"] for r in app.requests] == [path]  # the request after it was not served


async def test_an_upgrade_request_is_answered_plainly_then_the_connection_closes(served) -> None:
    app, port, ca_file = served
    (response,), closed = await _exchange(
        port, ca_file, _request("GET", "/echo", b"", "Connection: Upgrade", "Upgrade: websocket",
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")
        + b"\x81\x85not http at all", "GET")
    assert response[0] == 200 and response[1]["connection"] == "close" and closed
    assert [r["path"] for r in app.requests] == ["/echo"]


async def test_http2_without_alpn_gets_505(served) -> None:
    # HTTP/2 is negotiated by ALPN; its preface on an HTTP/1.1 connection is refused as Go
    # refuses a request line of an unsupported version.
    app, port, ca_file = served
    (response,), closed = await _exchange(port, ca_file, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "GET")
    assert response[0] == 505 and response[2] == b"505 HTTP Version Not Supported" and closed
    assert app.requests == []


async def test_a_client_gone_mid_response_is_a_disconnect_for_the_app(served) -> None:
    app, port, ca_file = served
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(_request("GET", "/wait-disconnect"))
        received = b""
        while b"started" not in received:
            received += await _receive(stream)
        await stream.transport_stream.aclose()
        await app.disconnected.wait()
