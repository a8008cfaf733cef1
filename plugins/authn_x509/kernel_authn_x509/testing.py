"""Real CAs and client certificates for tests (made with ``cryptography``, nothing mocked).

    ca = CertificateAuthority("team-ca")
    jane = ca.issue("jane", ["dev", "ops"])            # clientAuth, valid now
    old = ca.issue("old", expires_in=-timedelta(days=1))
    cert_file, key_file = jane.write(tmp_path, "jane")
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = datetime.timedelta(days=1)
CLIENT_AUTH = (ExtendedKeyUsageOID.CLIENT_AUTH,)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _name(cn: str, orgs: Sequence[str] = ()) -> x509.Name:
    return x509.Name([*(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else
                     [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs])


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def write(self, directory: Path, name: str) -> tuple[str, str]:
        cert_file, key_file = Path(directory) / f"{name}.crt", Path(directory) / f"{name}.key"
        cert_file.write_bytes(self.cert_pem)
        key_file.write_bytes(self.key_pem)
        return str(cert_file), str(key_file)


class CertificateAuthority(Issued):
    """A self-signed CA that issues client (or serving) certificates."""

    def __init__(self, cn: str = "test-ca", *, valid_for: datetime.timedelta = 30 * DAY) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(_name(cn)).issuer_name(_name(cn))
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - DAY).not_valid_after(now + valid_for)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True, crl_sign=True,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        super().__init__(cert, key)

    def issue(self, cn: str, orgs: Sequence[str] = (), *,
              usages: Sequence[x509.ObjectIdentifier] | None = CLIENT_AUTH,
              valid_from: datetime.timedelta = -DAY, expires_in: datetime.timedelta = 30 * DAY,
              dns_names: Sequence[str] = (), ip_addresses: Sequence[str] = ()) -> Issued:
        """A certificate for ``cn`` in ``orgs``; ``usages=None`` leaves out the EKU extension."""
        import ipaddress

        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(cn, orgs)).issuer_name(self.cert.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now + valid_from).not_valid_after(now + expires_in)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.key.public_key()), critical=False))
        if usages is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        names = [x509.DNSName(n) for n in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)
