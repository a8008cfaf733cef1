"""Local HTTPS servers for tests: the identity providers, webhooks and issuers a plugin talks to,
served for real (TLS with their own CA) on 127.0.0.1 from a thread.

    directory = Path(tempfile.mkdtemp())
    ca_file, cert_file, key_file = serving_material(directory)
    server = serve_https(MyHandler, free_port(), cert_file, key_file, name="my-webhook")
    ...                                   # point the plugin at https://127.0.0.1:<port> and ca_file
    server.shutdown(); server.server_close()
"""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kernel.server.certs import ensure_self_signed


def free_port() -> int:
    """A port nothing listens on now (for a server that is started, or stopped, later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serving_material(directory: Path) -> tuple[str, str, str]:
    """A CA and a serving certificate for 127.0.0.1 and localhost in ``directory``:
    ``(ca file, cert file, key file)`` (the kernel's own generator, as for ``--cert-dir``)."""
    serving = ensure_self_signed(str(directory), "127.0.0.1")
    return serving.ca_file, serving.cert_file, serving.key_file


class TLSRequestHandler(BaseHTTPRequestHandler):
    """Sends small writes at once (TCP_NODELAY), completes the TLS handshake in the connection's own thread rather than in the accept loop
    (a client that stalls or fails it holds up no one), drops a connection whose handshake fails
    (no or a bad client certificate), and keeps the client certificate as ``peer``."""

    refused = False
    peer: dict[str, Any] | None = None

    def setup(self) -> None:
        # http.server writes headers and body apart: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK (~40 ms a response on Linux)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.refused = True
            return
        self.peer = self.request.getpeercert() or None
        super().setup()

    def handle(self) -> None:
        if not self.refused:
            super().handle()

    def finish(self) -> None:
        if not self.refused:
            super().finish()

    def log_message(self, *args: Any) -> None:
        pass  # tests read what they need from the handler, not from stderr


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many concurrent clients: http.server's 5 would drop connections


def serve_https(handler: type[TLSRequestHandler], port: int, cert_file: str, key_file: str, *,
                client_ca_pem: bytes | None = None, name: str = "local-https") -> ThreadingHTTPServer:
    """Serve ``handler`` over TLS on 127.0.0.1:``port`` from a daemon thread; with
    ``client_ca_pem``, clients must present a certificate it signed. Stop it with
    ``shutdown()`` then ``server_close()``."""
    server = _Server(("127.0.0.1", port), handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    if client_ca_pem is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=client_ca_pem.decode())
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True, name=name).start()
    return server
