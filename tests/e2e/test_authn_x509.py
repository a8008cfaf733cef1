"""authn_x509 end to end: `kernel serve --client-ca-file`, kubectl and httpx with real certificates."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import httpx
import pytest
from authn_helpers import KUBECTL, kubectl, review_user, tls_client, whoami, write_kubeconfig
from cryptography.x509.oid import ExtendedKeyUsageOID

from kernel_authn_x509.testing import CertificateAuthority

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _until(predicate, timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_client_certificates_whoami_rejections_and_ca_reload(kernel_process, tmp_path: Path) -> None:
    ca, other = CertificateAuthority("team-ca"), CertificateAuthority("other-ca")
    ca_file = tmp_path / "client-ca.crt"
    ca_file.write_bytes(ca.cert_pem)
    kernel = kernel_process("--plugins=storage_memory,api_authentication,authn_x509",
                            f"--client-ca-file={ca_file}")
    jane = ca.issue("jane", ["dev", "ops"]).write(tmp_path, "jane")

    # kubectl auth whoami (SelfSubjectReview, sent as protobuf) prints the CN and the O values.
    config = write_kubeconfig(tmp_path / "jane.kubeconfig", kernel.url, kernel.ca_file, cert=jane)
    table = kubectl(config, tmp_path / "home-jane", "auth", "whoami")
    assert table.returncode == 0, table.stderr
    assert "Username" in table.stdout and "jane" in table.stdout
    assert "[dev ops system:authenticated]" in table.stdout
    info = whoami(config, tmp_path / "home-jane")
    assert info["username"] == "jane" and info["groups"] == ["dev", "ops", "system:authenticated"]
    assert info["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("X509SHA256=")

    # Expired and not-yet-valid certificates pass the handshake and are refused with 401.
    for name, kwargs in (("expired", {"expires_in": -datetime.timedelta(minutes=5)}),
                         ("future", {"valid_from": datetime.timedelta(days=1),
                                     "expires_in": datetime.timedelta(days=2)})):
        cert = ca.issue(name, **kwargs).write(tmp_path, name)
        with tls_client(kernel.url, kernel.ca_file, cert) as client:
            response = review_user(client)
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED), name
        config = write_kubeconfig(tmp_path / f"{name}.kubeconfig", kernel.url, kernel.ca_file, cert=cert)
        result = kubectl(config, tmp_path / f"home-{name}", "auth", "whoami")
        assert result.returncode != 0 and "Unauthorized" in result.stderr
    assert "certificate has expired or is not yet valid" in kernel.log()

    # OpenSSL's ssl_client purpose check ends a handshake whose certificate forbids client auth,
    # and an untrusted certificate fails the handshake: neither gets an HTTP answer.
    server_only = ca.issue("svc", usages=[ExtendedKeyUsageOID.SERVER_AUTH]).write(tmp_path, "svc")
    stranger = other.issue("mallory").write(tmp_path, "mallory")
    for cert in (server_only, stranger):
        with tls_client(kernel.url, kernel.ca_file, cert) as client, pytest.raises(httpx.TransportError):
            review_user(client)

    # Reload: the file now trusts only the other CA. A connection opened before keeps its TLS
    # session, but its requests are verified against the new bundle: 401.
    kept = tls_client(kernel.url, kernel.ca_file, jane)
    assert review_user(kept).status_code == 201
    _write_atomically(ca_file, other.cert_pem)

    def mallory_authenticates() -> bool:
        try:
            with tls_client(kernel.url, kernel.ca_file, stranger) as client:
                return review_user(client).status_code == 201
        except httpx.TransportError:
            return False

    assert _until(mallory_authenticates), kernel.log()
    assert review_user(kept).status_code == 401
    kept.close()
    with tls_client(kernel.url, kernel.ca_file, jane) as client, pytest.raises(httpx.TransportError):
        review_user(client)  # new connections verify against the new bundle in the handshake

    # A bad file is logged and changes nothing; both CAs in the file: both users.
    _write_atomically(ca_file, b"garbage")
    time.sleep(1.5)
    assert mallory_authenticates()
    assert "not reloaded" in kernel.log()
    _write_atomically(ca_file, ca.cert_pem + other.cert_pem)

    def jane_authenticates() -> bool:
        try:
            with tls_client(kernel.url, kernel.ca_file, jane) as client:
                return review_user(client).json()["status"]["userInfo"]["username"] == "jane"
        except httpx.TransportError:
            return False

    assert _until(jane_authenticates)
    assert mallory_authenticates()
