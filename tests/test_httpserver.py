"""Regression tests for kernel/httpserver.py on the pinned hypercorn 0.18.0.

Each guards something Hypercorn's trio worker does not do by itself: the verified TLS client
certificate reaching authenticators, TLS 1.2+ with ALPN, idle keep-alive connections closing at
shutdown instead of holding it up, ``Connection: close`` ending HTTP/2 connections (GOAWAY), and
the streams of an HTTP/2 connection that ends mid-response being let go (not leaked).
"""

from __future__ import annotations

import datetime
import gc
import socket
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import Running, build_server, plugin_env
from kernel.certs import ensure_self_signed
from kernel.httpserver import PeerCertTCPServer, create_ssl_context, serve
from kernel.server import run

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


# -- shutdown with idle keep-alive connections -----------------------------------------------------

@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
async def test_idle_keep_alive_connections_do_not_hold_up_shutdown(tmp_path: Path, http2: bool) -> None:
    # The drain waits up to --request-timeout (30 s here) for connections with requests in
    # flight; an idle connection must be closed at once, so run() returns well within 10 s.
    server = build_server(tmp_path, ["--request-timeout=30s"])
    context = client_context(server.options.serving.ca_file)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: run(server, handle_signals=False,
                                                        task_status=task_status))
            client = httpx.AsyncClient(base_url=server.url, verify=context, http1=not http2, http2=http2)
            response = await client.get("/readyz")
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


async def _serve(app: Any, tmp_path: Path, nursery: trio.Nursery) -> tuple[int, str]:
    """kernel.httpserver.serve with a raw ASGI app; returns (port, CA file)."""
    serving = ensure_self_signed(str(tmp_path / "certs"), "127.0.0.1")
    listeners = await trio.open_ssl_over_tcp_listeners(
        0, create_ssl_context(serving.cert_file, serving.key_file, []), host="127.0.0.1",
        https_compatible=True)
    port = listeners[0].transport_listener.socket.getsockname()[1]
    await nursery.start(lambda task_status: serve(
        app, listeners, stop_listening=trio.sleep_forever, drain_timeout=5,
        on_stopped_listening=lambda: None, task_status=task_status))
    return port, serving.ca_file


@pytest.fixture
async def plain_server(tmp_path: Path, nursery: trio.Nursery) -> tuple[int, str]:
    return await _serve(_asgi_app, tmp_path, nursery)


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



# -- HTTP/2 connections that end mid-response ------------------------------------------------------

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
    port, ca_file = await _serve(app, tmp_path, nursery)
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


# -- reloadable client CAs -------------------------------------------------------------------------

def test_serving_context_swaps_client_cas_and_keeps_the_old_on_bad_input(tmp_path: Path) -> None:
    from kernel.httpserver import ServingContext

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
