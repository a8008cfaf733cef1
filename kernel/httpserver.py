"""HTTPS serving on Hypercorn's trio worker, with the three things kube needs that it lacks.

1. The verified TLS client certificate in the ASGI scope (``scope["extensions"]["tls"]``):
   Hypercorn 0.18 does not provide it. :class:`PeerCertTCPServer` completes the handshake, reads
   the peer certificate and wraps the connection's app so every request carries it.
2. ``Connection: close`` on HTTP/2: h2 drops the header (it is forbidden there), so a response
   asking for it would leave the connection open. As Go's net/http2 does (and kube's
   --shutdown-send-retry-after relies on), :class:`PeerCertTCPServer` sends GOAWAY and closes the
   connection once its streams are done, so clients reconnect (to another apiserver).
3. kube's shutdown order: stop listening at NotAcceptingNewRequest (or once drained, with
   --shutdown-send-retry-after), close idle keep-alive connections, then give connections with
   requests in flight until the drain deadline. ``hypercorn.trio.serve`` has a single trigger
   for all of that, so :func:`serve` composes Hypercorn's connection handling itself.
4. HTTP/2 connections that end while responses are still being sent (a client killed during
   a watch, a dropped network): Hypercorn stops its sending task but leaves each stream's
   buffer open, so the app's next (or final) send waits forever. Every such stream would keep
   its request task, and the connection its socket and TLS state, until the process exits (and
   hold up a graceful shutdown until the drain deadline). :class:`PeerCertTCPServer` releases
   those buffers once the connection is closed, so the sends return and everything is freed.

The TLS context itself can change while serving (:class:`ServingContext`, :class:`TLSListener`):
client CA bundles are reloaded without a restart.

Pinned to hypercorn==0.18.0; tests/test_httpserver.py guards each of these behaviours.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import h2.exceptions
import trio
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config
from hypercorn.events import Closed, Event, RawData, Updated
from hypercorn.protocol.h2 import H2Protocol
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def _asks_to_close(message: dict[str, Any]) -> bool:
    return any(name.lower() == b"connection" and value.lower() == b"close"
               for name, value in message.get("headers", ()))


class _ConnectionApp:
    """Hypercorn's AppWrapper for one connection: adds the TLS extension to each scope and
    notes an HTTP/2 response that asks for ``Connection: close``."""

    def __init__(self, app: Any, tls: dict[str, Any] | None, connection: PeerCertTCPServer) -> None:
        self.app = app
        self.tls = tls
        self.connection = connection

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any,
                       sync_spawn: Callable, call_soon: Callable) -> None:
        if self.tls is not None:
            scope.setdefault("extensions", {})["tls"] = self.tls
        if scope.get("http_version") == "2":
            original_send = send

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start" and _asks_to_close(message):
                    self.connection.close_when_idle = True
                await original_send(message)

        await self.app(scope, receive, send, sync_spawn, call_soon)


class PeerCertTCPServer(TCPServer):
    close_when_idle = False  # an HTTP/2 response asked for Connection: close
    released = False  # the connection closed and its HTTP/2 streams were let go

    async def protocol_send(self, event: Event) -> None:
        if isinstance(event, Updated):
            if self.released:
                return  # no idle timer for a closed connection: it would keep the task alive
            if event.idle and self.close_when_idle:
                await self.idle_task.restart(self._task_group, self._go_away)
                return
        await super().protocol_send(event)
        if isinstance(event, (RawData, Closed)):  # a failed write closes the protocol too
            await self._release_if_closed()

    async def _read_data(self) -> None:
        await super()._read_data()  # ends by handing Closed() to the protocol
        await self._release_if_closed()

    async def _initiate_server_close(self) -> None:
        await super()._initiate_server_close()
        await self._release_if_closed()

    async def _release_if_closed(self) -> None:
        """Once an HTTP/2 connection is closed, make every stream's pending and future sends
        return (see 4. above): close their buffers, and stop the idle timer, so the
        connection's tasks end and the socket is closed."""
        h2_protocol = self.protocol.protocol
        if self.released or not isinstance(h2_protocol, H2Protocol) or not h2_protocol.closed:
            return
        self.released = True
        await self.idle_task.stop()
        for buffer in list(h2_protocol.stream_buffers.values()):
            await buffer.close()

    async def _go_away(self) -> None:
        with trio.CancelScope(shield=True):
            h2_protocol = self.protocol.protocol
            try:
                h2_protocol.connection.close_connection()  # GOAWAY, no error
                await h2_protocol._flush()
            except h2.exceptions.ProtocolError:
                pass  # the peer already closed the connection
            await self._initiate_server_close()

    async def run(self) -> None:
        tls = None
        if isinstance(self.stream, trio.SSLStream):
            try:
                with trio.fail_after(self.config.ssl_handshake_timeout):
                    await self.stream.do_handshake()
            except (trio.BrokenResourceError, trio.TooSlowError):
                await self.stream.aclose()
                return  # bad or untrusted certificate, or a client that never finished
            der = self.stream.getpeercert(binary_form=True)
            tls = {"client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
                   "tls_version": None, "cipher_suite": None}
        self.app = _ConnectionApp(self.app, tls, self)  # type: ignore[assignment]
        await super().run()  # its own do_handshake() returns at once now


# OpenSSL's X509_V_FLAG_NO_CHECK_TIME, which Python's ssl module does not name.
X509_V_FLAG_NO_CHECK_TIME = 0x200000


def create_ssl_context(cert_file: str, key_file: str, client_ca_files: Sequence[str] = (),
                       client_ca_pem: Sequence[str] = ()) -> ssl.SSLContext:
    """TLS 1.2+, ALPN h2 and http/1.1; client certificates optional, verified against the CAs.

    The CAs come from files, or PEM text. As kube does (it requests a certificate and verifies
    it in the x509 authenticator), the handshake does not check the client certificate's
    validity period: an expired certificate reaches the authenticators, which refuse it with 401
    rather than breaking the connection. Issuer and signature are still verified here, and an
    untrusted certificate fails the handshake (Python's ssl cannot defer that check).
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.set_alpn_protocols(["h2", "http/1.1"])
    context.load_cert_chain(cert_file, key_file)
    for ca_file in client_ca_files:
        context.load_verify_locations(ca_file)
    for pem in client_ca_pem:
        context.load_verify_locations(cadata=pem)
    if client_ca_files or client_ca_pem:
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
    return context


class ServingContext:
    """The TLS context for new connections, rebuilt when a client CA bundle changes on disk.

    Built from the serving certificate and ``options.client_ca_files``. A plugin that watches one
    of those files hands its new content to :meth:`update_client_ca`; every handshake after that
    verifies client certificates against the new bundles, so a CA can be added or removed without
    a restart. Connections already open keep the context they were accepted with: a client
    certificate authenticator re-checks the certificate against its current CAs on every request
    (as kube's x509 authenticator does), so a removed CA stops authenticating at once.
    """

    def __init__(self, cert_file: str, key_file: str, client_ca_files: Sequence[str]) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self._client_cas: dict[str, str] = {}
        for path in client_ca_files:
            with open(path, encoding="utf-8") as ca:
                self._client_cas[path] = ca.read()
        self.current = self._build(self._client_cas)

    def _build(self, client_cas: dict[str, str]) -> ssl.SSLContext:
        return create_ssl_context(self.cert_file, self.key_file,
                                  client_ca_pem=[pem for pem in client_cas.values() if pem.strip()])

    def update_client_ca(self, source: str, pem: str) -> None:
        """Serve new handshakes with ``pem`` as the client CA bundle of ``source`` (a path in
        ``options.client_ca_files``; another name adds a bundle). Raises ``ssl.SSLError`` for a
        bundle OpenSSL cannot load, and the current context stays in use."""
        client_cas = {**self._client_cas, source: pem}
        context = self._build(client_cas)
        self._client_cas = client_cas
        self.current = context


class TLSListener(trio.abc.Listener[trio.SSLStream[trio.SocketStream]]):
    """trio's SSLListener, except that each connection gets the context current when it is
    accepted (trio's keeps the one it was made with)."""

    def __init__(self, transport_listener: trio.SocketListener, context: ServingContext) -> None:
        self.transport_listener = transport_listener
        self.context = context

    async def accept(self) -> trio.SSLStream[trio.SocketStream]:
        stream = await self.transport_listener.accept()
        return trio.SSLStream(stream, self.context.current, server_side=True,
                              https_compatible=True)

    async def aclose(self) -> None:
        await self.transport_listener.aclose()


async def open_tls_listeners(port: int, context: ServingContext, *,
                             host: str | None = None) -> list[TLSListener]:
    return [TLSListener(listener, context)
            for listener in await trio.open_tcp_listeners(port, host=host)]


def hypercorn_config(keep_alive_timeout: float = 75.0) -> Config:
    config = Config()
    config.keep_alive_timeout = keep_alive_timeout
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # app crashes reach our log
    return config


async def serve(
    app: ASGIApp,
    listeners: Sequence[trio.abc.Listener[trio.SSLStream[trio.SocketStream]]],
    *,
    stop_listening: Callable[[], Awaitable[None]],
    drain_timeout: float,
    on_stopped_listening: Callable[[], None],
    config: Config | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``listeners`` until ``stop_listening`` returns, then drain connections.

    Returns once every connection closed or ``drain_timeout`` seconds after listening stopped.
    """
    config = config or hypercorn_config()
    context = WorkerContext(None)
    connection = partial(PeerCertTCPServer, ASGIWrapper(app), config, context, ConnectionState({}))
    async with trio.open_nursery() as connections:
        async with trio.open_nursery() as accepting:
            accepting.start_soon(partial(trio.serve_listeners, connection, list(listeners),
                                         handler_nursery=connections))
            task_status.started()
            await stop_listening()
            accepting.cancel_scope.cancel()
        for listener in listeners:
            await listener.aclose()
        on_stopped_listening()
        await context.terminated.set()  # idle keep-alive connections close now
        connections.cancel_scope.deadline = trio.current_time() + drain_timeout

