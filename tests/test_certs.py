"""The self-signed CA and serving certificate in --cert-dir: generated, reused, re-issued."""

from __future__ import annotations

import base64
import datetime
import re
import socket
import ssl
import subprocess
import sys

import pytest
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


def test_reuse_needs_only_the_standard_library(tmp_path):
    """Certificates already in --cert-dir are checked with ssl alone: no cryptography loaded."""
    ensure_self_signed(str(tmp_path), "0.0.0.0")
    probe = ("import sys; from kernel.server.certs import ensure_self_signed, trust_anchor_pem; "
             f"s = ensure_self_signed({str(tmp_path)!r}, '0.0.0.0'); trust_anchor_pem(s); "
             "print('cryptography' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_certificate_times_read_as_ssl_reads_them(tmp_path):
    """The expiry check reads OpenSSL's time text as ssl.cert_time_to_seconds does, without
    importing _strptime (and calendar) into a server that reuses its certificates."""
    from kernel.server.certs import _valid_until
    ensure_self_signed(str(tmp_path), "0.0.0.0")
    texts = [ssl._ssl._test_decode_cert(str(tmp_path / name))["notAfter"]
             for name in ("ca.crt", "apiserver.crt")]
    for text in [*texts, "Jan  5 09:34:43 2028 GMT", "Feb 29 23:59:59 2028 GMT"]:
        expected = datetime.datetime.fromtimestamp(ssl.cert_time_to_seconds(text), datetime.timezone.utc)
        assert _valid_until({"notAfter": text}) == expected
    for bad in ("Foo  5 09:34:43 2028 GMT", "Jan  5 09:34:43 2028 PST", "Jan 5 2028"):
        with pytest.raises(ValueError):
            _valid_until({"notAfter": bad})
    probe = ("import sys; from kernel.server.certs import ensure_self_signed; "
             f"ensure_self_signed({str(tmp_path)!r}, '0.0.0.0'); print('_strptime' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_serving_key_that_does_not_match_is_reissued(tmp_path):
    ensure_self_signed(str(tmp_path), "0.0.0.0")
    other = tmp_path / "other"
    ensure_self_signed(str(other), "0.0.0.0")
    (tmp_path / "apiserver.key").write_bytes((other / "apiserver.key").read_bytes())
    ca_before = (tmp_path / "ca.crt").read_bytes()
    serving = ensure_self_signed(str(tmp_path), "0.0.0.0")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(serving.cert_file, serving.key_file)  # raises if they do not match
    assert (tmp_path / "ca.crt").read_bytes() == ca_before


def test_expiring_serving_certificate_is_reissued(tmp_path):
    ensure_self_signed(str(tmp_path), "0.0.0.0")
    from kernel.server import certgen
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import serialization

    ca = cx509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((tmp_path / "ca.key").read_bytes(), None)
    original = certgen.SERVING_VALIDITY
    certgen.SERVING_VALIDITY = datetime.timedelta(hours=1)  # inside RENEW_BEFORE
    try:
        certgen._make_serving(tmp_path, ca, ca_key, ["localhost"], ["127.0.0.1"])
    finally:
        certgen.SERVING_VALIDITY = original
    short = (tmp_path / "apiserver.crt").read_bytes()
    ensure_self_signed(str(tmp_path), "0.0.0.0")
    assert (tmp_path / "apiserver.crt").read_bytes() != short
    leaf = cx509.load_pem_x509_certificates((tmp_path / "apiserver.crt").read_bytes())[0]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc > datetime.timedelta(days=300)


def test_trust_anchor_of_a_given_chain_is_its_last_certificate(tmp_path):
    from kernel.server.certs import from_files, trust_anchor_pem

    ensure_self_signed(str(tmp_path), "0.0.0.0")
    chain = from_files(str(tmp_path / "apiserver.crt"), str(tmp_path / "apiserver.key"))
    assert trust_anchor_pem(chain) == (tmp_path / "ca.crt").read_bytes()
