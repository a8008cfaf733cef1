"""Generating the self-signed CA and serving certificate (client-go's util/cert), and the full
check of an existing pair that decides whether to re-issue.

The only module of the kernel that imports ``cryptography``; ``kernel.server.certs`` imports it
only when the certificates in --cert-dir must be made or re-issued, so a server restarting on
good certificates (and a build that brings its own) does not load it.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kernel.server.certfiles import (CA_CERT, CA_KEY, CA_VALIDITY, RENEW_BEFORE, SERVING_CERT,
                                     SERVING_KEY, SERVING_VALIDITY)

log = logging.getLogger("kernel.server.certs")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, data: bytes, private: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _make_ca(cert_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    now = _now()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         f"{socket.gethostname()}-ca@{int(now.timestamp())}")])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write(cert_dir / CA_KEY, _key_pem(key), private=True)
    _write(cert_dir / CA_CERT, cert.public_bytes(serialization.Encoding.PEM), private=False)
    log.info("generated self-signed CA %s in %s", cert.subject.rfc4514_string(), cert_dir)
    return cert, key


def _make_serving(cert_dir: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                  dns: list[str], ips: list[str]) -> None:
    key = _new_key()
    now = _now()
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kernel-apiserver")]))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(min(now + SERVING_VALIDITY, ca.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True,
                                         content_commitment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(cert_dir / SERVING_KEY, _key_pem(key), private=True)
    # The chain (serving cert, then CA) as kube writes it, so clients may verify either way.
    _write(cert_dir / SERVING_CERT, cert.public_bytes(serialization.Encoding.PEM)
           + ca.public_bytes(serialization.Encoding.PEM), private=False)
    log.info("generated serving certificate for %s in %s", ", ".join(dns + ips), cert_dir)


def _load_ca(cert_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate((cert_dir / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((cert_dir / CA_KEY).read_bytes(), None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.not_valid_after_utc < _now() + RENEW_BEFORE:
        return None
    return cert, key


def _serving_still_good(cert_dir: Path, ca: x509.Certificate, dns: list[str], ips: list[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificates((cert_dir / SERVING_CERT).read_bytes())[0]
        key = serialization.load_pem_private_key((cert_dir / SERVING_KEY).read_bytes(), None)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, IndexError, x509.ExtensionNotFound):
        return False
    have_dns = set(sans.get_values_for_type(x509.DNSName))
    have_ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    return (cert.issuer == ca.subject and key.public_key() == cert.public_key()
            and cert.not_valid_after_utc > _now() + RENEW_BEFORE
            and set(dns) <= have_dns and {str(ipaddress.ip_address(i)) for i in ips} <= have_ips)



def ensure(directory: Path, dns: list[str], ips: list[str]) -> None:
    """Reuse the CA if it is still good, else make one; re-issue the serving certificate unless
    it is still good for these names."""
    loaded = _load_ca(directory)
    if loaded is None:
        ca, ca_key = _make_ca(directory)
        _make_serving(directory, ca, ca_key, dns, ips)
        return
    ca, ca_key = loaded
    if _serving_still_good(directory, ca, dns, ips):
        log.info("reusing the serving certificate in %s", directory)
    else:
        _make_serving(directory, ca, ca_key, dns, ips)
