"""Regression tests for kernel/httpserver.py on the pinned hypercorn 0.18.0.

Each guards something Hypercorn's trio worker does not do by itself: the verified TLS client
certificate reaching authenticators, TLS 1.2+ with ALPN, idle keep-alive connections closing at
shutdown instead of holding it up, ``Connection: close`` ending HTTP/2 connections (GOAWAY), and
the streams of an HTTP/2 connection that ends mid-response being let go (not leaked).
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import json
import logging
import socket
import ssl
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import h11
import httpx
import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import Running, build_server, plugin_env
from kernel.server.certs import ensure_self_signed
from kernel.server.httpserver import PeerCertTCPServer, hypercorn_config, serve
from kernel.server.tls import create_ssl_context
from kernel.server.genericapiserver import run

THINGS = "/apis/alpha.test.kernel.dev/v1/things"


# -- a real PKI for client certificates ------------------------------------------------------------

def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def issue_client_cert(path: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                      cn: str) -> str:
    """Write a client certificate for ``cn`` and its key into one PEM file (load_cert_chain's form)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(path)


@dataclass
class ClientPKI:
    ca_file: str  # the CA the kernel trusts for client certificates
    jane: str  # cert + key signed by that CA, CN=jane
    stranger: str  # cert + key signed by another CA


@pytest.fixture
def client_pki(tmp_path: Path) -> ClientPKI:
    ca, ca_key = make_ca("client-ca")
    other, other_key = make_ca("other-ca")
    ca_file = tmp_path / "client-ca.crt"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return ClientPKI(str(ca_file), issue_client_cert(tmp_path / "jane.pem", ca, ca_key, "jane"),
                     issue_client_cert(tmp_path / "stranger.pem", other, other_key, "jane"))


@pytest.fixture
def cert_kernel(kernel_process, test_plugins_path: str, client_pki: ClientPKI) -> Running:
    """``kernel serve`` with test_alpha's certificate authenticator and the client CA."""
    return kernel_process("--plugins=test_alpha", "--storage-backend=alpha-dict",
                          f"--alpha-client-ca={client_pki.ca_file}", env=plugin_env(test_plugins_path))


def client_context(ca_file: str, cert: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if cert:
        context.load_cert_chain(cert)
    return context


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# -- client certificates ---------------------------------------------------------------------------

@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
@pytest.mark.parametrize("with_cert, user", [(True, "cert:jane"), (False, "system:anonymous")],
                         ids=["jane", "no-cert"])
def test_verified_client_certificate_reaches_authenticators(
        cert_kernel: Running, client_pki: ClientPKI, http2: bool, with_cert: bool, user: str) -> None:
    context = client_context(cert_kernel.ca_file, client_pki.jane if with_cert else None)
    with httpx.Client(base_url=cert_kernel.url, verify=context, http1=not http2, http2=http2) as client:
        response = client.get(THINGS)
    assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    assert response.status_code == 200, response.text
    assert response.json()["user"] == user


def test_certificate_from_another_ca_fails_the_handshake(cert_kernel: Running,
                                                         client_pki: ClientPKI) -> None:
    # With TLS 1.2 the server verifies the client certificate inside the handshake, so the
    # handshake itself must fail; jane's certificate, same client settings, is the control.
    def handshake(cert: str) -> str:
        context = client_context(cert_kernel.ca_file, cert)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", _port(cert_kernel.url)), timeout=10) as sock:
            with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
                return tls.version()

    assert handshake(client_pki.jane) == "TLSv1.2"
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(client_pki.stranger)

    # With TLS 1.3 (httpx's default) the rejection comes right after the client's handshake ends:
    # the request fails at the connection level, it never gets an HTTP answer.
    for http2 in (False, True):
        with httpx.Client(base_url=cert_kernel.url, http1=not http2, http2=http2,
                          verify=client_context(cert_kernel.ca_file, client_pki.stranger)) as client:
            with pytest.raises(httpx.TransportError):
                client.get(THINGS)


# -- TLS versions and ALPN -------------------------------------------------------------------------

def _tls11_client(ca_file: str) -> ssl.SSLContext:
    """A client that can only speak TLS 1.1 (OpenSSL 3 needs security level 0 for it)."""
    context = client_context(ca_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1_1 itself is deprecated
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


async def _tls_version(port: int, context: ssl.SSLContext) -> str | None:
    stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=context,
                                                 https_compatible=True)
    try:
        await stream.do_handshake()
        return stream.version()
    finally:
        await stream.aclose()


async def test_tls_1_1_is_refused(kernel_in_process, tmp_path: Path) -> None:
    kernel = await kernel_in_process()
    client = _tls11_client(kernel.ca_file)

    # Control: the same client completes a TLS 1.1 handshake with a server that allows it, so
    # the failure below is the kernel's refusal, not this machine's OpenSSL policy.
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        permissive.minimum_version = ssl.TLSVersion.TLSv1_1
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    serving = kernel.server.options.serving
    permissive.load_cert_chain(serving.cert_file, serving.key_file)

    async def handshake_only(stream: trio.SSLStream) -> None:
        try:
            await stream.do_handshake()
        except trio.BrokenResourceError:
            pass

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_ssl_over_tcp, handshake_only, 0, permissive)
        port = listeners[0].transport_listener.socket.getsockname()[1]
        assert await _tls_version(port, client) == "TLSv1.1"
        nursery.cancel_scope.cancel()

    with pytest.raises(trio.BrokenResourceError):
        await _tls_version(_port(kernel.server.url), client)


@pytest.mark.parametrize("version, name", [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
                                           (ssl.TLSVersion.TLSv1_3, "TLSv1.3")])
async def test_tls_1_2_and_1_3_work(kernel_in_process, version: ssl.TLSVersion, name: str) -> None:
    kernel = await kernel_in_process()
    context = client_context(kernel.ca_file)
    context.minimum_version = context.maximum_version = version
    assert await _tls_version(_port(kernel.server.url), context) == name
    async with httpx.AsyncClient(base_url=kernel.server.url, verify=context) as client:
        assert (await client.get("/readyz")).status_code == 200


@pytest.mark.parametrize("http2, negotiated", [(True, "HTTP/2"), (False, "HTTP/1.1")])
async def test_alpn_offers_h2_and_http_1_1(kernel_in_process, http2: bool, negotiated: str) -> None:
    kernel = await kernel_in_process()
    # http2=True offers ["h2", "http/1.1"]: the server picks h2; an HTTP/1.1-only client gets 1.1.
    async with kernel.client(http1=True, http2=http2) as client:
        response = await client.get("/version")
    assert response.status_code == 200
    assert response.http_version == negotiated


DEFERRED_PROBE = """
import json, logging, sys, tempfile
import kernel.server.httpserver
from kernel.server.hypercornimports import DEFERRED
found = {"imported": [m for m in (*DEFERRED, "h2.connection", "hpack", "wsproto", "multiprocessing")
                      if m in sys.modules]}
# Hypercorn's uses of the stand-ins reach the real modules: a TOML configuration file, and a
# logging configuration (logging.config.dictConfig).
from hypercorn.config import Config
from hypercorn.logging import Logger
with tempfile.NamedTemporaryFile("w", suffix=".toml") as toml:
    toml.write("keep_alive_timeout = 7\\n")
    toml.flush()
    found["toml"] = Config.from_toml(toml.name).keep_alive_timeout
config = Config()
config.logconfig_dict = {"version": 1, "loggers": {"probe": {"level": "ERROR"}}}
Logger(config)
found["logger level"] = logging.getLogger("probe").level
# Any other name Hypercorn reads from a stand-in is the real module's; a later import gets the
# real module.
import hypercorn.config, hypercorn.typing, h11, tomllib
from multiprocessing.synchronize import Event
found["real"] = (hypercorn.config.tomllib.TOMLDecodeError is tomllib.TOMLDecodeError
                 and isinstance(Event, type) and "logging.config" in sys.modules
                 and hypercorn.typing.h11.Data is h11.Data)  # not the import-time placeholder
print(json.dumps(found))
"""


async def test_what_hypercorn_imports_for_unused_features_is_imported_on_first_use(
        kernel_process) -> None:
    # The serving module leaves unimported what Hypercorn imports for features the kernel does
    # not use (kernel.server.hypercornimports): its HTTP/2 stack and WebSocket stream until a
    # connection needs one, its h11 protocol and h11 (HTTP/1.1 is kernel.server.http1),
    # logging.config, multiprocessing and tomllib until ever used.
    probe = subprocess.run([sys.executable, "-c", DEFERRED_PROBE], capture_output=True, text=True,
                           check=True)
    assert json.loads(probe.stdout) == {"imported": [], "toml": 7, "logger level": logging.ERROR,
                                        "real": True}

    # A fresh server process loads each when first needed, and serves it as before.
    running = kernel_process("--plugins=api_core,storage_memory")
    port = _port(running.url)
    with trio.fail_after(20):
        http1 = await _open(port, running.ca_file, "http/1.1")
        await http1.send_all(b"GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert (await _receive(http1)).startswith(b"HTTP/1.1 200 ")
        # HTTP/2 through the kernel's own protocol: kube's settings, not Hypercorn's defaults.
        client = H2Client(await _open(port, running.ca_file, "h2"))
        _, events = await client.get("/version")
        settings = next(e for e in events
                        if isinstance(e, h2.events.RemoteSettingsChanged)).changed_settings
        assert settings[h2.settings.SettingCodes.MAX_FRAME_SIZE].new_value == 256 * 1024
        response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
        assert dict(response.headers)[b":status"] == b"200"
        # An Upgrade: websocket request is answered as a plain request (the kernel serves no
        # WebSocket endpoint).
        ws = await _open(port, running.ca_file, "http/1.1")
        await ws.send_all(b"GET /version HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          b"Sec-WebSocket-Version: 13\r\n\r\n")
        assert (await _receive(ws)).startswith(b"HTTP/1.1 ")


# -- shutdown with idle keep-alive connections -----------------------------------------------------

@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
async def test_idle_keep_alive_connections_do_not_hold_up_shutdown(tmp_path: Path, http2: bool) -> None:
    # The drain waits up to --request-timeout (30 s here) for connections with requests in
    # flight; an idle connection must be closed at once, so run() returns well within 10 s.
    server = build_server(tmp_path, ["--request-timeout=30s", "--authorization-mode=AlwaysAllow"])
    context = client_context(server.options.serving.ca_file)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: run(server, handle_signals=False,
                                                        task_status=task_status))
            client = httpx.AsyncClient(base_url=server.url, verify=context, http1=not http2, http2=http2)
            response = await client.get("/version")  # anonymous; /readyz waits for post-start hooks
            assert response.status_code == 200
            assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
            server.shutdown()  # the connection stays open and idle in the client's pool
        # run() has returned: every connection task ended, the idle one included.
    await client.aclose()
    assert server.signals.http_server_stopped_listening.is_set()


# -- Connection: close -----------------------------------------------------------------------------

async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers ``/close`` with ``Connection: close`` (as the shutdown 429 does), others plainly."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
    if scope["path"] == "/close":
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


async def start_plain_server(tmp_path: Path, nursery: trio.Nursery, app: Any = _asgi_app, *,
                             config: Any = None, stop: trio.Event | None = None,
                             on_stopped_listening: Any = lambda: None) -> tuple[int, str]:
    """kernel.server.httpserver.serve with a raw ASGI app in ``nursery``; returns (port, CA file).
    Setting ``stop`` begins the shutdown (the drain is bounded by 10 s)."""
    serving = ensure_self_signed(str(tmp_path / "certs"), "127.0.0.1")
    listeners = await trio.open_ssl_over_tcp_listeners(
        0, create_ssl_context(serving.cert_file, serving.key_file, []), host="127.0.0.1",
        https_compatible=True)
    port = listeners[0].transport_listener.socket.getsockname()[1]
    await nursery.start(lambda task_status: serve(
        app, listeners, stop_listening=stop.wait if stop is not None else trio.sleep_forever, drain_timeout=10,
        on_stopped_listening=on_stopped_listening, config=config, task_status=task_status))
    return port, serving.ca_file


@pytest.fixture
async def plain_server(tmp_path: Path, nursery: trio.Nursery) -> tuple[int, str]:
    return await start_plain_server(tmp_path, nursery)


async def _open(port: int, ca_file: str, alpn: str) -> trio.SSLStream:
    context = client_context(ca_file)
    context.set_alpn_protocols([alpn])
    stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=context,
                                                 https_compatible=True)
    await stream.do_handshake()
    assert stream.selected_alpn_protocol() == alpn
    return stream


async def _receive(stream: trio.SSLStream) -> bytes:
    """The next bytes, or b"" once the server closed the connection."""
    try:
        return await stream.receive_some()
    except trio.BrokenResourceError:
        return b""


async def _http1_exchange(stream: trio.SSLStream, path: str) -> bytes:
    await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    response = b""
    while not response.endswith(b"ok"):
        chunk = await _receive(stream)
        assert chunk, f"connection closed before the response ended: {response!r}"
        response += chunk
    return response


async def test_http1_connection_close_ends_the_connection(plain_server: tuple[int, str]) -> None:
    port, ca_file = plain_server
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        assert b"connection: close" not in await _http1_exchange(stream, "/")
        assert b"connection: close" in await _http1_exchange(stream, "/close")  # same connection
        assert await _receive(stream) == b""


async def test_http1_response_before_the_body_arrived_closes_the_connection(
        plain_server: tuple[int, str]) -> None:
    # The app answers without waiting for the body (a 404, a 413). The connection cannot carry
    # another request until the body is in, so the response says Connection: close (else a
    # client reusing it would lose its next request), and the server closes it afterwards.
    port, ca_file = plain_server
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n")
        response = b""
        while not response.endswith(b"ok"):
            response += await _receive(stream)
        assert b"connection: close" in response.lower()
        await stream.send_all(b"0123456789")  # the body, late: read and discarded
        assert await _receive(stream) == b""


class H2Client:
    """Just enough of an HTTP/2 client to see the frames the server sends."""

    def __init__(self, stream: trio.SSLStream) -> None:
        self.stream = stream
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()

    async def flush(self) -> None:
        await self.stream.send_all(self.conn.data_to_send())

    async def get(self, path: str) -> tuple[int, list[h2.events.Event]]:
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, [(":method", "GET"), (":path", path), (":scheme", "https"),
                                           (":authority", "localhost")], end_stream=True)
        await self.flush()
        events: list[h2.events.Event] = []
        while not any(isinstance(e, h2.events.StreamEnded) and e.stream_id == stream_id
                      for e in events):
            data = await _receive(self.stream)
            assert data, f"connection closed before stream {stream_id} ended: {events}"
            events += self.conn.receive_data(data)
            await self.flush()
        return stream_id, events

    async def events_until_closed(self) -> list[h2.events.Event]:
        events: list[h2.events.Event] = []
        while data := await _receive(self.stream):
            events += self.conn.receive_data(data)
        return events


class _RecordingStream(trio.abc.Stream):
    """A transport that keeps every byte it receives: the TLS records as the server wrote them."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.received = bytearray()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data = await self.inner.receive_some(max_bytes)
        self.received += data
        return data

    async def aclose(self) -> None:
        await self.inner.aclose()


def _tls_records(raw: bytes) -> list[int]:
    """The content type of each TLS record in ``raw`` (5-byte headers: type, version, length)."""
    types, at = [], 0
    while at + 5 <= len(raw):
        types.append(raw[at])
        at += 5 + int.from_bytes(raw[at + 3:at + 5], "big")
    assert at == len(raw), "a partial record"
    return types


async def _open_recorded(port: int, ca_file: str, alpn: str) -> tuple[_RecordingStream, trio.SSLStream]:
    """A TLS connection whose transport keeps the records it receives."""
    raw = _RecordingStream(await trio.open_tcp_stream("127.0.0.1", port))
    context = client_context(ca_file)
    context.set_alpn_protocols([alpn])
    stream = trio.SSLStream(raw, context, server_hostname="127.0.0.1", https_compatible=True)
    await stream.do_handshake()
    return raw, stream


async def test_http1_response_with_a_length_leaves_in_one_tls_record(
        plain_server: tuple[int, str]) -> None:
    # Hypercorn writes a response's head and body separately: two records and two writes.
    with trio.fail_after(10):
        raw, stream = await _open_recorded(*plain_server, "http/1.1")
        await _http1_exchange(stream, "/")  # TLS 1.3 session tickets come with the first answer
        for _ in range(3):
            raw.received.clear()
            response = await _http1_exchange(stream, "/")
            assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"\r\n\r\nok")
            assert _tls_records(bytes(raw.received)) == [23]  # one application-data record
        await stream.aclose()


async def test_http2_response_with_a_length_leaves_in_one_tls_record(
        plain_server: tuple[int, str]) -> None:
    # Hypercorn flushes HEADERS, DATA and END_STREAM each on its own: three records and writes.
    with trio.fail_after(10):
        raw, stream = await _open_recorded(*plain_server, "h2")
        client = H2Client(stream)
        await client.flush()
        await client.get("/")  # settings, their acknowledgements and the session tickets
        for _ in range(3):
            raw.received.clear()
            stream_id, events = await client.get("/")
            [response] = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
            assert dict(response.headers)[b":status"] == b"200"
            assert b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived)) == b"ok"
            assert _tls_records(bytes(raw.received)) == [23]
        await stream.aclose()


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
async def test_big_response_with_a_length_arrives_whole(tmp_path: Path, nursery: trio.Nursery,
                                                        http2: bool) -> None:
    # Past CORK_JOIN_LIMIT the head and the body are written one after the other, not joined.
    body = bytes(range(256)) * 4096 + b"end"  # 1 MiB and 3 bytes

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    port, ca_file = await start_plain_server(tmp_path, nursery, app)
    with trio.fail_after(20):
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", http2=http2,
                                     verify=client_context(ca_file)) as http:
            for _ in range(2):  # the second on the kept-alive connection
                response = await http.get("/")
                assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
                assert response.status_code == 200 and response.content == body


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
async def test_response_with_a_length_in_several_bodies_arrives_in_order(
        tmp_path: Path, nursery: trio.Nursery, http2: bool) -> None:
    # Only the first body goes out with the head; the rest follow it through the protocol's path.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"12")]})
        for part in (b"abcd", b"efgh"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await trio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"ijkl"})

    port, ca_file = await start_plain_server(tmp_path, nursery, app)
    with trio.fail_after(10):
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", http2=http2,
                                     verify=client_context(ca_file)) as http:
            for _ in range(3):
                response = await http.get("/")
                assert response.status_code == 200 and response.content == b"abcdefghijkl"


async def test_http1_streamed_response_head_is_sent_before_its_body(tmp_path: Path,
                                                                   nursery: trio.Nursery) -> None:
    # Only a response with a Content-Length is held back until its body: a watch's head must
    # reach the client at once, whenever its first event comes.
    release = trio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await release.wait()
        await send({"type": "http.response.body", "body": b"ok"})

    port, ca_file = await start_plain_server(tmp_path, nursery, app)
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += await _receive(stream)
        assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
        release.set()
        rest = head.split(b"\r\n\r\n", 1)[1]
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = await _receive(stream)
            assert chunk, rest
            rest += chunk
        assert rest == b"2\r\nok\r\n0\r\n\r\n"


async def test_http2_connection_close_sends_goaway_and_closes(plain_server: tuple[int, str]) -> None:
    # h2 drops the Connection header (forbidden in HTTP/2); like Go's net/http2 the server must
    # still honour it: GOAWAY, then close, so clients reconnect (e.g. to another apiserver).
    port, ca_file = plain_server
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        _, events = await client.get("/")
        assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in events)
        stream_id, events = await client.get("/close")  # the same connection still serves
        response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
        assert dict(response.headers)[b":status"] == b"200"
        events += await client.events_until_closed()
    goaways = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    assert len(goaways) == 1
    assert goaways[0].error_code == 0
    assert goaways[0].last_stream_id == stream_id



# -- connections that end mid-response ------------------------------------------------------------

class StreamingApp:
    """Two long responses, as a watch makes them. ``/flood`` sends more than HTTP/2's initial
    64 KiB flow-control window (a client that stops reading leaves it blocked in send);
    ``/quiet`` sends nothing until the client goes away, then ends its body (as a watch does).
    ``finished`` counts the responses whose app call returned."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.started += 1
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            if scope["path"] == "/flood":
                for _ in range(16):
                    await send({"type": "http.response.body", "body": b"x" * 16384,
                                "more_body": True})
            else:
                while (await receive())["type"] != "http.disconnect":
                    pass
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.finished += 1


def _connections() -> int:
    gc.collect()
    return sum(isinstance(o, PeerCertTCPServer) for o in gc.get_objects())


@pytest.mark.parametrize("path", ["/flood", "/quiet"])
async def test_http2_streams_of_a_dropped_connection_are_released(
        tmp_path: Path, nursery: trio.Nursery, path: str) -> None:
    # Hypercorn 0.18 leaves such streams waiting in send forever: the app task, the connection
    # and its socket would stay until the process exits (one per killed `kubectl get -w`).
    app = StreamingApp()
    port, ca_file = await start_plain_server(tmp_path, nursery, app)
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        for _ in range(3):
            client.conn.send_headers(client.conn.get_next_available_stream_id(), [
                (":method", "GET"), (":path", path), (":scheme", "https"),
                (":authority", "localhost")], end_stream=True)
        await client.flush()
        received: list[h2.events.Event] = []
        while sum(isinstance(e, h2.events.ResponseReceived) for e in received) < 3:
            received += client.conn.receive_data(await _receive(client.stream))
        await trio.sleep(0.2)  # let /flood fill the window (no WINDOW_UPDATE is ever sent)
        assert app.started == 3 and app.finished == 0
        await client.stream.transport_stream.aclose()  # gone without GOAWAY or RST_STREAM
        while app.finished < 3 or _connections():
            await trio.sleep(0.01)


async def _respond_late(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await trio.sleep(0.01)  # long enough for the client to be gone
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"late"})


async def test_http1_connection_closed_before_its_response_is_released(
        tmp_path: Path, nursery: trio.Nursery) -> None:
    # As wrk leaves its connections at the end of a run: pipelined requests, then the client
    # closes. After the reader saw EOF, each response that ended made Hypercorn start the next
    # keep-alive cycle and its idle timer, which held the dead connection for the keep-alive
    # timeout (90 s) and, once shutdown began, for a 32 s header wait (EOF looks like input).
    # The bounds sit well under what the bug held a connection for (90 s, then 32 s), and well
    # over what a loaded machine needs (gc.collect() per poll on a large test session's heap).
    stop = trio.Event()
    port, ca_file = await start_plain_server(tmp_path, nursery, _respond_late, stop=stop)
    with trio.fail_after(45):
        for _ in range(5):
            stream = await _open(port, ca_file, "http/1.1")
            await stream.send_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n" * 20)
            await stream.transport_stream.aclose()
        await trio.sleep(0.5)
        while _connections():
            await trio.sleep(0.1)
    stopped = trio.Event()
    port, ca_file = await start_plain_server(tmp_path, nursery, _respond_late, stop=stop,
                                             on_stopped_listening=stopped.set)
    stream = await _open(port, ca_file, "http/1.1")
    await stream.send_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
    await stream.transport_stream.aclose()
    await trio.sleep(0.5)  # the response's write has failed
    stop.set()
    with trio.fail_after(20):
        await stopped.wait()
        while _connections():
            await trio.sleep(0.1)


# -- reloadable client CAs -------------------------------------------------------------------------

def test_serving_context_swaps_client_cas_and_keeps_the_old_on_bad_input(tmp_path: Path) -> None:
    from kernel.server.tls import ServingContext

    serving = ensure_self_signed(str(tmp_path / "certs"), "127.0.0.1")
    ca_file = tmp_path / "clients.crt"
    ca_file.write_text(Path(serving.ca_file).read_text())
    tls = ServingContext(serving.cert_file, serving.key_file, [str(ca_file)])
    first = tls.current
    assert first.verify_mode == ssl.CERT_OPTIONAL
    assert len(first.get_ca_certs()) == 1
    with pytest.raises(ssl.SSLError):
        tls.update_client_ca(str(ca_file), "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    assert tls.current is first
    other = ensure_self_signed(str(tmp_path / "other"), "127.0.0.1")
    tls.update_client_ca("extra", Path(other.ca_file).read_text())
    assert tls.current is not first and len(tls.current.get_ca_certs()) == 2
    tls.update_client_ca(str(ca_file), "")
    tls.update_client_ca("extra", "")
    assert tls.current.verify_mode == ssl.CERT_NONE  # no client CA left: no certificate asked for


# -- kube's serving settings -----------------------------------------------------------------------

async def test_5000_requests_on_one_http2_connection_get_no_goaway(plain_server: tuple[int, str]) -> None:
    # Hypercorn's default keep_alive_max_requests (1000) sent GOAWAY on the 1001st request and
    # left it unanswered; kubectl and informers keep one connection for hours. kube has no cap.
    port, ca_file = plain_server
    with trio.fail_after(300):  # a hang guard only
        client = H2Client(await _open(port, ca_file, "h2"))
        for _ in range(5000):
            stream_id, events = await client.get("/")
            assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in events), stream_id
            response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
            assert dict(response.headers)[b":status"] == b"200"
    assert stream_id == 9999


@pytest.mark.parametrize("flags, streams", [((), 100), (("--http2-max-streams-per-connection=250",), 250)])
async def test_http2_settings_are_kubes(kernel_in_process, flags: tuple[str, ...], streams: int) -> None:
    kernel = await kernel_in_process(*flags)
    with trio.fail_after(10):
        client = H2Client(await _open(_port(kernel.server.url), kernel.ca_file, "h2"))
        _, events = await client.get("/version")
    settings = next(e for e in events if isinstance(e, h2.events.RemoteSettingsChanged)).changed_settings
    code = h2.settings.SettingCodes
    assert {key: settings[key].new_value for key in (
        code.MAX_CONCURRENT_STREAMS, code.MAX_FRAME_SIZE, code.INITIAL_WINDOW_SIZE,
        code.MAX_HEADER_LIST_SIZE)} == {
        code.MAX_CONCURRENT_STREAMS: streams,  # kube 1.29+: 100 unless the flag says otherwise
        code.MAX_FRAME_SIZE: 256 * 1024,  # resourceBody99Percentile
        code.INITIAL_WINDOW_SIZE: 256 * 1024,
        code.MAX_HEADER_LIST_SIZE: (1 << 20) + 320}  # MaxHeaderBytes, as x/net/http2 pads it
    # The connection window is the stream window times the stream limit.
    assert client.conn.outbound_flow_control_window == 256 * 1024 * streams
    response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
    assert b"server" not in dict(response.headers)  # kube sends no Server header


@pytest.mark.parametrize("value, error", [
    ("0.02", None), ("0", None),
    ("0.03", "--goaway-chance can not be less than 0 or greater than 0.02"),
    ("-0.01", "--goaway-chance can not be less than 0 or greater than 0.02"),
    ("-1", 'invalid argument "-1" for "--http2-max-streams-per-connection" flag')])
def test_serving_flags_are_validated(tmp_path: Path, value: str, error: str | None) -> None:
    from kernel import app

    flag = "--http2-max-streams-per-connection" if value == "-1" else "--goaway-chance"
    argv = [f"{flag}={value}", f"--cert-dir={tmp_path}"]
    run_options = app.build_options(argv)
    options, errors = app.parse(run_options, argv)
    errors += app.validate(run_options, options)
    if error is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith(error), errors


async def test_goaway_chance_sends_goaway_after_the_sampled_response(tmp_path: Path,
                                                                     nursery: trio.Nursery) -> None:
    # kube's --goaway-chance: the sampled request is answered, then GOAWAY (NO_ERROR, naming it)
    # and the connection closes, so the client reconnects, perhaps to another apiserver.
    port, ca_file = await start_plain_server(tmp_path, nursery, config=hypercorn_config(goaway_chance=1))
    with trio.fail_after(10):
        client = H2Client(await _open(port, ca_file, "h2"))
        stream_id, events = await client.get("/")
        events += await client.events_until_closed()
    assert [e.stream_id for e in events if isinstance(e, h2.events.StreamEnded)] == [stream_id]
    goaways = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    assert [(g.error_code, g.last_stream_id) for g in goaways] == [(0, stream_id)]
    # A real client just carries on, on new connections.
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", http2=True,
                                 verify=client_context(ca_file)) as http:
        for _ in range(20):
            response = await http.get("/")
            assert (response.status_code, response.http_version) == (200, "HTTP/2")


async def test_oversized_header_is_refused_with_431(plain_server: tuple[int, str]) -> None:
    # kube's MaxHeaderBytes is 1 MiB (Go allows a little over); a 2 MiB header is refused.
    port, ca_file = plain_server
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")

        async def send() -> None:
            with contextlib.suppress(trio.BrokenResourceError):
                await stream.send_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: "
                                      + b"x" * (2 << 20) + b"\r\n\r\n")

        async with trio.open_nursery() as sending:
            sending.start_soon(send)
            response = b""
            while chunk := await _receive(stream):
                response += chunk
            sending.cancel_scope.cancel()
    assert response.startswith(b"HTTP/1.1 431 ")
    # Just under 1 MiB is served.
    with trio.fail_after(10):
        stream = await _open(port, ca_file, "http/1.1")
        await stream.send_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: "
                              + b"x" * ((1 << 20) - 100) + b"\r\n\r\n")
        assert (await _receive(stream)).startswith(b"HTTP/1.1 200 ")


# -- idle keep-alive connections -------------------------------------------------------------------

@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
async def test_idle_connections_close_after_the_keep_alive_timeout_but_busy_ones_stay(
        tmp_path: Path, nursery: trio.Nursery, http2: bool) -> None:
    # The idle timer restarts after every response and stops at every request: a connection
    # used more often than the timeout stays open, and so does one whose request takes longer
    # than the timeout; left idle, it is closed (HTTP/2: GOAWAY first).
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/slow":
            await trio.sleep(1.2)
        await _asgi_app(scope, receive, send)

    port, ca_file = await start_plain_server(tmp_path, nursery, app,
                                             config=hypercorn_config(idle_timeout=0.6))
    with trio.fail_after(20):
        stream = await _open(port, ca_file, "h2" if http2 else "http/1.1")
        client = H2Client(stream) if http2 else None
        if client is not None:
            await client.flush()
        for path in ["/"] * 4 + ["/slow"] + ["/"] * 4:  # 3 s: well past the timeout in all
            await trio.sleep(0.25)
            if client is not None:
                _, events = await client.get(path)
                assert any(isinstance(e, h2.events.DataReceived) and e.data == b"ok" for e in events)
            else:
                await _http1_exchange(stream, path)
        idle_since = trio.current_time()
        if client is not None:
            events = await client.events_until_closed()
            assert any(isinstance(e, h2.events.ConnectionTerminated) for e in events)
        else:
            assert await _receive(stream) == b""
        assert 0.5 < trio.current_time() - idle_since < 5


# -- slow clients ----------------------------------------------------------------------------------

async def test_slow_header_connections_are_dropped_while_requests_are_served(
        tmp_path: Path, nursery: trio.Nursery) -> None:
    # Slowloris: 200 connections trickle header lines and never finish. Each must be closed once
    # its header has taken longer than the header timeout (kube: Go's ReadHeaderTimeout, 32 s;
    # 1 s here), however often it sends a byte, while normal requests keep being answered.
    port, ca_file = await start_plain_server(tmp_path, nursery,
                                             config=hypercorn_config(read_header_timeout=1))
    outcomes: list[bytes] = []

    async def slow_client() -> None:
        stream = await _open(port, ca_file, "http/1.1")

        async def trickle() -> None:
            try:
                await stream.send_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
                while True:
                    await trio.sleep(0.2)
                    await stream.send_all(b"X-Slow: 1\r\n")
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

        async with trio.open_nursery() as both:
            both.start_soon(trickle)
            outcomes.append(await _receive(stream))  # b"": closed without an answer
            both.cancel_scope.cancel()
        await stream.aclose()

    answered = 0
    with trio.fail_after(120):  # a hang guard only
        async with trio.open_nursery() as clients:
            for _ in range(200):
                clients.start_soon(slow_client)
            async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}",
                                         verify=client_context(ca_file)) as http:
                while len(outcomes) < 200:
                    response = await http.get("/")
                    assert response.status_code == 200
                    answered += 1
                    await trio.sleep(0.05)
    assert outcomes == [b""] * 200
    assert answered > 0


# -- request bodies over kube's 3 MiB limit --------------------------------------------------------

BODY_LIMIT = 3 * 1024 * 1024  # kube's MaxRequestBodyBytes
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
TOO_LARGE = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": f"Request entity too large: limit is {BODY_LIMIT}",
             "reason": "RequestEntityTooLarge", "code": 413}


def configmap_body(size: int, name: str = "big") -> bytes:
    """A valid configmap of exactly ``size`` bytes of JSON."""
    empty = json.dumps({"metadata": {"name": name}, "data": {"k": ""}}, separators=(",", ":"))
    body = json.dumps({"metadata": {"name": name}, "data": {"k": "x" * (size - len(empty))}},
                      separators=(",", ":")).encode()
    assert len(body) == size
    return body


async def _assert_nothing_stored(api: Any) -> None:
    assert (await api.client.get(f"{CONFIGMAPS}/big")).status_code == 404
    names = [item["metadata"]["name"] for item in (await api.get(CONFIGMAPS))["items"]]
    assert "big" not in names


@pytest.mark.parametrize("size", [BODY_LIMIT + 1, 8 * 1024 * 1024], ids=["limit+1", "8MiB"])
@pytest.mark.parametrize("length", ["content-length", "chunks"])
@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
async def test_body_over_3_mib_is_413_and_stores_nothing(api: Any, http2: bool, length: str,
                                                         size: int) -> None:
    body = configmap_body(size)

    async def chunks() -> Any:  # no Content-Length: chunked on HTTP/1.1, DATA frames on HTTP/2
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    async with api.kernel.client(http1=not http2, http2=http2, timeout=30) as client:
        response = await client.post(CONFIGMAPS, content=body if length == "content-length" else chunks(),
                                     headers={"content-type": "application/json"})
        assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    await _assert_nothing_stored(api)
    # The control: a body at the limit is read and reaches validation (a configmap's data is
    # limited to 1 MiB, so 422).
    response = await api.client.post(CONFIGMAPS, content=configmap_body(BODY_LIMIT, "at-limit"),
                                     headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["reason"]) == (422, "Invalid")


async def test_body_over_the_limit_with_a_lying_content_length_is_413(api: Any) -> None:
    # Content-Length promises 10 MiB; after 3 MiB + 1 byte the server answers without waiting
    # for the rest (and then closes the connection).
    port = _port(api.server.url)
    token = api.server.options.loopback_token
    with trio.fail_after(30):
        stream = await _open(port, api.kernel.ca_file, "http/1.1")
        await stream.send_all(
            f"POST {CONFIGMAPS} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {10 * 1024 * 1024}\r\n\r\n".encode()
            + configmap_body(BODY_LIMIT + 1))
        response = b""
        while chunk := await _receive(stream):
            response += chunk
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(payload) == TOO_LARGE
    await _assert_nothing_stored(api)


# -- the drain at shutdown -------------------------------------------------------------------------

class RecordingApp:
    """Answers every request with its path (after reading the body), recording what it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.seen.append(scope["path"])
        while (await receive()).get("more_body"):
            pass
        if scope["path"].startswith("/slow"):
            await trio.sleep(0.5)
        body = scope["path"].encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class BlockingConnection:
    """A client connection on a blocking socket: it can write while the server's trio loop is
    not running, which puts a request into the server's socket exactly when we choose."""

    def __init__(self, port: int, ca_file: str, alpn: str) -> None:
        context = client_context(ca_file)
        context.set_alpn_protocols([alpn])
        self.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                                        server_hostname="127.0.0.1")
        assert self.sock.selected_alpn_protocol() == alpn

    def read_until_closed(self) -> bytes:
        data = b""
        with contextlib.suppress(OSError):
            while chunk := self.sock.recv(65536):
                data += chunk
        return data


class BlockingH1(BlockingConnection):
    def __init__(self, port: int, ca_file: str) -> None:
        super().__init__(port, ca_file, "http/1.1")
        self.h11 = h11.Connection(h11.CLIENT)

    def request(self, method: str, path: str, body: bytes = b"") -> bytes:
        headers = [("host", "localhost"), ("content-length", str(len(body)))]
        return (self.h11.send(h11.Request(method=method, target=path, headers=headers))
                + self.h11.send(h11.Data(data=body)) + self.h11.send(h11.EndOfMessage()))

    def _events(self) -> list[Any]:
        events = []
        while (event := self.h11.next_event()) is not h11.NEED_DATA:
            events.append(event)
            if isinstance(event, h11.ConnectionClosed):
                break
            if isinstance(event, h11.EndOfMessage) and self.h11.their_state is h11.DONE:
                if self.h11.our_state is h11.DONE:
                    self.h11.start_next_cycle()
        return events

    @staticmethod
    def _responses(events: list[Any]) -> list[tuple[int, dict[bytes, bytes], bytes]]:
        out, current, body = [], None, b""
        for event in events:
            if isinstance(event, h11.Response):
                current, body = event, b""
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) and current is not None:
                out.append((current.status_code, dict(current.headers), body))
        return out

    def responses(self, data: bytes) -> list[tuple[int, dict[bytes, bytes], bytes]]:
        """The responses in ``data``, all the server sent before closing."""
        self.h11.receive_data(data)
        self.h11.receive_data(b"")  # the close
        try:
            return self._responses(self._events())
        except h11.RemoteProtocolError:  # closed without (all of) a response
            return []

    def exchange(self, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
        self.sock.sendall(self.request("GET", path))
        events: list[Any] = []
        while not any(isinstance(e, h11.EndOfMessage) for e in events):
            self.h11.receive_data(self.sock.recv(65536))
            events += self._events()
        return self._responses(events)[0]


class BlockingH2(BlockingConnection):
    def __init__(self, port: int, ca_file: str) -> None:
        super().__init__(port, ca_file, "h2")
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def request(self, method: str, path: str, body: bytes = b"") -> int:
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, [(":method", method), (":path", path), (":scheme", "https"),
                                           (":authority", "localhost")], end_stream=not body)
        if body:
            self.conn.send_data(stream_id, body, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        return stream_id

    def exchange(self, path: str) -> None:
        stream_id = self.request("GET", path)
        while True:
            events = self.conn.receive_data(self.sock.recv(65536))
            self.sock.sendall(self.conn.data_to_send())
            if any(isinstance(e, h2.events.StreamEnded) and e.stream_id == stream_id for e in events):
                return

    def frames(self, data: bytes) -> list[Any]:
        """The frames in ``data``, parsed without h2's state machine (it rejects any frame after
        a GOAWAY, which is legal for the server to send); header blocks decoded."""
        from hyperframe.frame import Frame, HeadersFrame

        frames, position = [], 0
        while position + 9 <= len(data):
            frame, length = Frame.parse_frame_header(memoryview(data[position:position + 9]))
            frame.parse_body(memoryview(data[position + 9:position + 9 + length]))
            if isinstance(frame, HeadersFrame):
                frame.headers = dict(self.conn.decoder.decode(frame.data, raw=True))
            frames.append(frame)
            position += 9 + length
        return frames


async def test_requests_already_in_the_socket_at_shutdown_are_answered(tmp_path: Path) -> None:
    # The shutdown: after the delay, the server stops listening and closes idle keep-alive
    # connections. A connection whose next request is already in its socket is not idle: every
    # request the server read is answered. Here 8 GETs and 1 POST per protocol land in their
    # sockets exactly as the server stops listening (written, blocking, while its loop waits on
    # this callback). HTTP/2 may instead send GOAWAY naming the stream before (not read: the
    # client retries it); a 10th HTTP/2 connection, with a slow request in flight, must have its
    # late request read and answered before the GOAWAY.
    app = RecordingApp()
    stop = trio.Event()
    h1_clients: list[BlockingH1] = []
    h2_clients: list[BlockingH2] = []
    late: dict[Any, tuple[str, Any]] = {}

    def requests_arrive() -> None:  # runs in serve() just before it tells connections to close
        for number, client in enumerate(h1_clients):
            path = f"/late/h1/{number}"
            method, body = ("POST", b"x" * 1000) if number == 8 else ("GET", b"")
            client.sock.sendall(client.request(method, path, body))
            late[client] = (path, None)
        for number, client in enumerate(h2_clients):
            path = f"/late/h2/{number}" if number < 9 else "/slow/late"
            method, body = ("POST", b"x" * 1000) if number == 8 else ("GET", b"")
            late[client] = (path, client.request(method, path, body))

    with trio.fail_after(60):  # a hang guard only
        async with trio.open_nursery() as nursery:
            port, ca_file = await start_plain_server(tmp_path, nursery, app, stop=stop,
                                                     on_stopped_listening=requests_arrive)

            def connect() -> None:
                for number in range(9):
                    h1_clients.append(BlockingH1(port, ca_file))
                    assert h1_clients[-1].exchange(f"/first/h1/{number}")[0] == 200
                    h2_clients.append(BlockingH2(port, ca_file))
                    h2_clients[-1].exchange(f"/first/h2/{number}")

            await trio.to_thread.run_sync(connect)
            busy = await trio.to_thread.run_sync(BlockingH2, port, ca_file)
            await trio.to_thread.run_sync(busy.exchange, "/first/busy")
            h2_clients.append(busy)
            slow_stream = busy.request("GET", "/slow/in-flight")
            while "/slow/in-flight" not in app.seen:
                await trio.sleep(0.01)
            stop.set()
        # serve() has returned: every connection was drained and closed.

    for client in h1_clients:
        path, _ = late[client]
        responses = client.responses(await trio.to_thread.run_sync(client.read_until_closed))
        assert [(status, body) for status, _, body in responses] == [(200, path.encode())], path
        assert responses[0][1].get(b"connection") == b"close"  # shutting down: no keep-alive
        assert path in app.seen

    for client in h2_clients:
        path, stream_id = late[client]
        frames = client.frames(await trio.to_thread.run_sync(client.read_until_closed))
        goaways = [f for f in frames if type(f).__name__ == "GoAwayFrame"]
        assert len(goaways) == 1 and goaways[0].error_code == 0, frames
        if goaways[0].last_stream_id >= stream_id:  # read: it must be answered
            headers = [f for f in frames if type(f).__name__ == "HeadersFrame" and f.stream_id == stream_id]
            data = b"".join(f.data for f in frames if type(f).__name__ == "DataFrame"
                            and f.stream_id == stream_id)
            assert [h[b":status"] for h in [f.headers for f in headers]] == [b"200"], frames
            assert data == path.encode()
            assert frames.index(headers[0]) < frames.index(goaways[0])
            assert path in app.seen
            if client is busy:
                assert any(getattr(f, "stream_id", 0) == slow_stream and "END_STREAM" in f.flags
                           for f in frames)
        else:  # not read: the GOAWAY names the stream before it, so the client retries it
            assert client is not busy
            assert goaways[0].last_stream_id == stream_id - 2
            assert path not in app.seen
            assert not [f for f in frames if getattr(f, "stream_id", 0) == stream_id]
