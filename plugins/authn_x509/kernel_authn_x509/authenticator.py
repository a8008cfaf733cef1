"""The x509 request authenticator (k8s.io/apiserver/pkg/authentication/request/x509).

The TLS handshake already checked that the client certificate was issued by a CA of
``--client-ca-file`` (an untrusted one never gets here: the handshake fails). Per request this
authenticator verifies again against the CA bundle it holds now — so a CA removed from the file
stops authenticating connections opened before — and checks what the handshake leaves out:
validity period and client-auth usage. The user is the subject's CommonName, the groups its
Organizations, and ``extra`` carries the certificate's fingerprint as kube's credential id.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from kernel.authentication import AuthenticationError, UserInfo
from kernel.endpoints.request import Request

from kernel_authn_x509.verify import VerifyError, build_chain, check_usage, check_validity

log = logging.getLogger("kernel_authn_x509")

CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
_CACHE_SIZE = 1024


def load_bundle(data: bytes, source: str) -> list[x509.Certificate]:
    """The certificates of a PEM bundle; ValueError naming ``source`` if there are none."""
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise ValueError(f"{source}: no PEM certificate found")
    return certificates


def _name_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def user_of(leaf: x509.Certificate) -> UserInfo | None:
    """CommonNameUserConversion: no CommonName means no user (the next authenticator may try)."""
    names = _name_values(leaf.subject, NameOID.COMMON_NAME)
    if not names or not names[-1]:  # Go keeps the last CN
        return None
    fingerprint = hashlib.sha256(leaf.public_bytes(Encoding.DER)).hexdigest()
    return UserInfo(names[-1], "", tuple(_name_values(leaf.subject, NameOID.ORGANIZATION_NAME)),
                    {CREDENTIAL_ID: [f"X509SHA256={fingerprint}"]})


def _identify(cert: x509.Certificate) -> str:
    """kube's certificateIdentifier: serial, subject key id, authority key id."""
    def key_id(ext_class: type, attribute: str) -> str:
        try:
            value = getattr(cert.extensions.get_extension_for_class(ext_class).value, attribute)
        except x509.ExtensionNotFound:
            return ""
        return ":".join(f"{b:02x}" for b in value or b"")
    return (f"SN={cert.serial_number}, SKID={key_id(x509.SubjectKeyIdentifier, 'digest')}, "
            f"AKID={key_id(x509.AuthorityKeyIdentifier, 'key_identifier')}")


class X509Authenticator:
    """Authenticates requests carrying a client certificate; the CA bundle can be replaced live."""

    def __init__(self, roots: Sequence[x509.Certificate], content: bytes = b"") -> None:
        self.roots = list(roots)
        self.content = content  # the PEM the roots came from
        # PEM chain → (verified chain, user) for the current roots; times are checked every request.
        self._verified: dict[tuple[str, ...], tuple[list[x509.Certificate], UserInfo | None]] = {}

    def set_roots(self, roots: Sequence[x509.Certificate], content: bytes = b"") -> None:
        self.roots = list(roots)
        self.content = content
        self._verified = {}

    def _verify(self, pem_chain: tuple[str, ...]) -> tuple[list[x509.Certificate], UserInfo | None]:
        cached = self._verified.get(pem_chain)
        if cached is not None:
            return cached
        try:
            presented = [x509.load_pem_x509_certificate(pem.encode()) for pem in pem_chain]
        except ValueError as error:
            raise AuthenticationError(f"x509: malformed client certificate: {error}") from None
        leaf = presented[0]
        try:
            chain = build_chain(leaf, presented[1:], self.roots)
            check_usage(chain)
        except VerifyError as error:
            raise AuthenticationError(f"verifying certificate {_identify(leaf)} failed: {error}") from None
        result = (chain, user_of(leaf))
        if len(self._verified) >= _CACHE_SIZE:
            self._verified.clear()
        self._verified[pem_chain] = result
        return result

    async def authenticate(self, request: Request) -> UserInfo | None:
        pem_chain = tuple(request.client_certificates)
        if not pem_chain:
            return None
        chain, user = self._verify(pem_chain)
        try:
            check_validity(chain, datetime.datetime.now(datetime.timezone.utc))
        except VerifyError as error:
            raise AuthenticationError(f"verifying certificate {_identify(chain[0])} failed: {error}") from None
        return user
