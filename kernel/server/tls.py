"""TLS for the secure port: the server's SSL context and a listener whose context can change.

Client CA bundles are reloaded without a restart (:class:`ServingContext`): each new connection
gets the context current when it is accepted (:class:`TLSListener`).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Sequence

import trio


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


async def open_tls_listeners(port: int, context: ServingContext, *, host: str | None = None,
                             reuse_port: bool = False) -> list[TLSListener]:
    """TLS listeners on ``port``; with ``reuse_port``, one socket on ``host`` with SO_REUSEPORT,
    so that several worker processes each accept on their own socket of one port (the kernel
    spreads new connections over them)."""
    if not reuse_port:
        return [TLSListener(listener, context)
                for listener in await trio.open_tcp_listeners(port, host=host)]
    sock = bind_reuse_port(host or "0.0.0.0", port)
    sock.listen(LISTEN_BACKLOG)
    return [TLSListener(trio.SocketListener(trio.socket.from_stdlib_socket(sock)), context)]


#: trio.open_tcp_listeners' default backlog: 0xFFFF, capped by net.core.somaxconn.
LISTEN_BACKLOG = 0xFFFF


def bind_reuse_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` with SO_REUSEPORT (and SO_REUSEADDR, as trio sets
    it), not yet listening. Raises OSError (EADDRINUSE) when the port is taken by a socket
    without SO_REUSEPORT or of another user."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:  # as trio: the IPv6 socket does not take IPv4 too
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
