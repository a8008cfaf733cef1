"""A real authorization webhook for tests: HTTPS on 127.0.0.1 with its own CA, nothing mocked.

    with LocalWebhook() as webhook:
        webhook.decide = lambda review: {"allowed": review["spec"]["user"] == "alice"}
        webhook.write_kubeconfig(tmp_path / "webhook.kubeconfig", token="secret")
        ...                                   # kernel serve --authorization-webhook-config-file=...
        assert len(webhook.reviews) == 1      # every SubjectAccessReview received, in order
        webhook.fail_next(500, times=2)       # answer HTTP 500 to the next two reviews

It serves from a thread (``http.server``), so in-process trio tests and ``kernel serve``
subprocesses can both use it. ``stop()`` takes it down (connections are then refused).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import socket
import struct
import tempfile
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kernel.testing.tls import TLSRequestHandler, free_port, serve_https, serving_material

#: ``fail_next(RESET)``: reset the connection instead of answering.
RESET = 0
Decide = Callable[[dict[str, Any]], dict[str, Any]]


def _certificate(subject: str, key: Any, issuer: x509.Name, issuer_key: Any, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=7))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def by_user(review: dict[str, Any]) -> dict[str, Any]:
    """A sample rule: alice is allowed, bob denied, anyone else gets no opinion (reasons say so)."""
    user = review["spec"].get("user")
    if user == "alice":
        return {"allowed": True, "reason": "alice may"}
    if user == "bob":
        return {"allowed": False, "denied": True, "reason": "bob is banned"}
    return {"allowed": False, "reason": f"no rule for {user}"}


def client_material(subject: str = "kube-apiserver") -> tuple[bytes, bytes, bytes]:
    """A client CA and a client certificate signed by it: (CA PEM, cert PEM, key PEM)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local-authz-webhook-client-ca")])
    ca = _certificate("local-authz-webhook-client-ca", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(subject, key, ca_name, ca_key, ca=False)
    return (ca.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


class LocalWebhook:
    """``require_client_cert``: TLS client authentication against the webhook's own client CA
    (``write_kubeconfig(..., client_cert=True)`` embeds a certificate it accepts)."""

    def __init__(self, path: str = "/authorize", require_client_cert: bool = False) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="local-authz-webhook-")
        self.ca_file, self._cert_file, self._key_file = serving_material(Path(self._directory.name))
        self.require_client_cert = require_client_cert
        self.client_ca, self.client_cert, self.client_key = client_material()
        self.clients: list[str] = []  # the common name of each client certificate presented
        self.port = free_port()
        self.path = path
        self.decide: Decide = lambda review: {"allowed": False}
        self.reviews: list[dict[str, Any]] = []  # every review received (failed ones too)
        self.headers: list[dict[str, str]] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{self.path}"

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` reviews with HTTP ``status`` (an empty body), or reset the
        connection for ``RESET``."""
        with self._lock:
            self._failures += [status] * times

    def write_kubeconfig(self, path: Path, token: str = "", ca: bool = True,
                         client_cert: bool = False) -> str:
        """A kubeconfig for this webhook (kube's format), as a file; returns its path."""
        cluster: dict[str, Any] = {"server": self.url}
        if ca:
            cluster["certificate-authority"] = self.ca_file
        user = {"token": token} if token else {}
        if client_cert:
            user["client-certificate-data"] = base64.b64encode(self.client_cert).decode()
            user["client-key-data"] = base64.b64encode(self.client_key).decode()
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "webhook",
            "clusters": [{"name": "authz", "cluster": cluster}],
            "users": [{"name": "apiserver", "user": user}],
            "contexts": [{"name": "webhook", "context": {"cluster": "authz", "user": "apiserver"}}]}))
        return str(path)

    def _answer(self, review: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            self.reviews.append(review)
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return failure, None
        return 200, {"apiVersion": review.get("apiVersion", "authorization.k8s.io/v1"),
                     "kind": "SubjectAccessReview", "status": self.decide(review)}

    def start(self) -> LocalWebhook:
        webhook = self

        class Handler(TLSRequestHandler):
            def setup(self) -> None:
                super().setup()
                if self.peer:
                    with webhook._lock:
                        webhook.clients.append(dict(f[0] for f in self.peer["subject"])["commonName"])

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                review = json.loads(self.rfile.read(length) or b"{}")
                with webhook._lock:
                    webhook.headers.append(dict(self.headers))
                status, answer = webhook._answer(review) if self.path == webhook.path else (404, None)
                if status == RESET:  # close with SO_LINGER 0: the client sees ECONNRESET
                    self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.request.close()
                    return
                body = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        client_ca = self.client_ca if self.require_client_cert else None
        server = serve_https(Handler, self.port, self._cert_file, self._key_file,
                             client_ca_pem=client_ca, name="local-authz-webhook")
        self._server = server
        return self

    def stop(self) -> None:
        """Take the webhook down: its port refuses connections from now on."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalWebhook:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self._directory.cleanup()
