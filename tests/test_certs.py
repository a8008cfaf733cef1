"""The self-signed CA and serving certificate in --cert-dir: generated, reused, re-issued."""

from __future__ import annotations

import base64
import re
import socket
import ssl

import trio
from cryptography import x509

from kernel.server.certs import ensure_self_signed


def _sans(path: str) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificates(open(path, "rb").read())[0]
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (set(sans.get_values_for_type(x509.DNSName)),
            {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)})


def test_generates_ca_and_serving_cert_with_sans(tmp_path):
    serving = ensure_self_signed(str(tmp_path), "10.1.2.3")
    dns, ips = _sans(serving.cert_file)
    assert dns == {"localhost", socket.gethostname()}
    assert ips == {"127.0.0.1", "::1", "10.1.2.3"}
    assert oct((tmp_path / "apiserver.key").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "ca.key").stat().st_mode & 0o777) == "0o600"
    # The serving certificate verifies against the CA for every name it claims.
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    leaf = x509.load_pem_x509_certificates((tmp_path / "apiserver.crt").read_bytes())[0]
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)


def test_reuses_certificates_on_restart(tmp_path):
    ensure_self_signed(str(tmp_path), "0.0.0.0")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    ensure_self_signed(str(tmp_path), "0.0.0.0")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_new_bind_address_reissues_serving_cert_from_the_same_ca(tmp_path):
    ensure_self_signed(str(tmp_path), "0.0.0.0")
    ca_before = (tmp_path / "ca.crt").read_bytes()
    serving_before = (tmp_path / "apiserver.crt").read_bytes()
    serving = ensure_self_signed(str(tmp_path), "127.0.0.2")
    assert (tmp_path / "ca.crt").read_bytes() == ca_before
    assert (tmp_path / "apiserver.crt").read_bytes() != serving_before
    assert "127.0.0.2" in _sans(serving.cert_file)[1]


async def test_server_reuses_cert_dir_and_clients_trust_the_ca(kernel_in_process, tmp_path):
    kernel = await kernel_in_process()
    ca = (tmp_path / "certs" / "ca.crt").read_bytes()
    context = ssl.create_default_context(cafile=kernel.ca_file)
    port = int(kernel.server.url.rsplit(":", 1)[1])
    for host in ("localhost", "127.0.0.1"):
        stream = await trio.open_ssl_over_tcp_stream(host, port, ssl_context=context)
        await stream.do_handshake()  # verifies the chain and the hostname/IP SAN
        assert stream.version() in ("TLSv1.2", "TLSv1.3")
        await stream.aclose()
    kernel.server.shutdown()
    kernel2 = await kernel_in_process()
    assert (tmp_path / "certs" / "ca.crt").read_bytes() == ca
    assert kernel2.server.url != ""


def test_given_certificate_is_used_as_is(kernel_process, tmp_path):
    other = tmp_path / "other"
    serving = ensure_self_signed(str(other), "127.0.0.1")
    kernel = kernel_process(f"--tls-cert-file={serving.cert_file}",
                            f"--tls-private-key-file={serving.key_file}", wait_ready=False)
    assert not (tmp_path / "certs").exists()  # no self-signed certificate was made
    kubeconfig = open(kernel.kubeconfig).read()
    ca_data = base64.b64decode(re.search(r'"certificate-authority-data": "([^"]+)"', kubeconfig).group(1))
    assert ca_data == (other / "ca.crt").read_bytes()
