"""A real webhook server for tests: HTTPS on 127.0.0.1 with its own CA, JSON in and out.

    with WebhookServer(dns_names=["hook.webhooks.svc"]) as server:
        server.handle = lambda path, review: {...}        # the JSON answer to a POST on ``path``
        config = server.client_config("/validate")         # {"url": ..., "caBundle": ...}
        config = server.service_config("webhooks", "hook", "/validate")   # a service reference
        ...
        server.requests                                    # every (path, headers, body) received
        server.delay = 5                                   # answer after 5 s (timeouts)
        server.fail_next(500, b"boom")                     # the next answer is an HTTP error
        server.write_kubeconfig(tmp_path / "hook.kubeconfig", "/authenticate", token="t")
                                                           # for --*-webhook-config-file flags

It serves from threads (``http.server``), so in-process trio tests and ``kernel serve``
subprocesses can both call it. The serving certificate holds 127.0.0.1, localhost and
``dns_names`` (a service's ``<name>.<namespace>.svc``).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kernel.testing.tls import TLSRequestHandler, free_port, serve_https

Handle = Callable[[str, Any], Any]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def serving_pair(directory: Path, dns_names: Sequence[str] = ()) -> tuple[bytes, str, str]:
    """A new CA and a serving certificate it signs for 127.0.0.1, localhost and ``dns_names``:
    (CA PEM, cert file, key file)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def build(subject: str, public_key: Any, ca: bool) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name("test-webhook-ca"))
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=7))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))

    ca = build("test-webhook-ca", ca_key.public_key(), True).sign(ca_key, hashes.SHA256())
    names = [x509.DNSName("localhost"), *map(x509.DNSName, dns_names),
             x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (build("test-webhook", key.public_key(), False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False).sign(ca_key, hashes.SHA256()))
    cert_file, key_file = directory / "webhook.crt", directory / "webhook.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(_pem(key))
    return ca.public_bytes(serialization.Encoding.PEM), str(cert_file), str(key_file)


def echo(path: str, body: Any) -> Any:
    return body


class WebhookServer:
    def __init__(self, handle: Handle = echo, dns_names: Sequence[str] = ()) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="test-webhook-")
        self.ca_pem, self._cert_file, self._key_file = serving_pair(Path(self._directory.name), dns_names)
        self.port = free_port()
        self.handle = handle
        self.delay = 0.0
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self._failures: list[tuple[int, bytes, str]] = []
        self._lock = threading.Lock()
        self._httpd: Any = None

    @property
    def ca_bundle(self) -> str:
        """The CA as a webhook configuration's ``caBundle`` (base64 of the PEM)."""
        return base64.b64encode(self.ca_pem).decode()

    def url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def client_config(self, path: str = "/") -> dict[str, Any]:
        return {"url": self.url(path), "caBundle": self.ca_bundle}

    def service_config(self, namespace: str, name: str, path: str = "/", port: int = 443) -> dict[str, Any]:
        return {"service": {"namespace": namespace, "name": name, "path": path, "port": port},
                "caBundle": self.ca_bundle}

    def write_kubeconfig(self, file: Path, path: str = "/", token: str = "") -> str:
        """A kubeconfig (kube's format, as the ``--*-webhook-config-file`` flags take) for a
        webhook at ``path`` of this server, trusting its CA; returns the file's path."""
        user = {"token": token} if token else {}
        file.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "webhook",
            "clusters": [{"name": "webhook", "cluster": {
                "server": self.url(path), "certificate-authority-data": self.ca_bundle}}],
            "users": [{"name": "apiserver", "user": user}],
            "contexts": [{"name": "webhook", "context": {"cluster": "webhook", "user": "apiserver"}}]}))
        return str(file)

    def fail_next(self, status: int, body: bytes = b"", content_type: str = "text/plain", times: int = 1) -> None:
        with self._lock:
            self._failures += [(status, body, content_type)] * times

    def _answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, bytes, str]:
        with self._lock:
            self.requests.append((path, headers, body))
            failure = self._failures.pop(0) if self._failures else None
        if self.delay:
            time.sleep(self.delay)
        if failure is not None:
            return failure
        answer = self.handle(path.partition("?")[0], body)
        return 200, answer if isinstance(answer, bytes) else json.dumps(answer).encode(), "application/json"

    def start(self) -> WebhookServer:
        server = self

        class Handler(TLSRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: a webhook client reuses its connections

            def setup(self) -> None:
                # headers and body are separate writes: without NODELAY the body waits for the
                # client's delayed ACK of the headers (40 ms a call)
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().setup()

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code, content, content_type = server._answer(self.path, dict(self.headers),
                                                             json.loads(raw or b"null"))
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        self._httpd = serve_https(Handler, self.port, self._cert_file, self._key_file, name="test-webhook")
        return self

    def stop(self) -> None:
        """Stop serving: connections are refused from now on (the port stays this server's)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._directory.cleanup()
