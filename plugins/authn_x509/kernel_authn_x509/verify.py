"""Client certificate chain verification as Go's x509.Verify does it for kube's x509 authenticator.

Every certificate in ``--client-ca-file`` is a trust anchor (Go's root pool). The chain is built
from the leaf through the presented intermediates to an anchor, each link checked with
``cryptography``'s ``verify_directly_issued_by`` (issuer name and signature); then each
certificate's validity period, intermediates' CA flag, and the extended key usage for client
authentication along the whole chain (a certificate without the extension allows any usage, as
does anyExtendedKeyUsage). Messages are Go's, which kube logs.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

MAX_CHAIN_DEPTH = 8
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class VerifyError(Exception):
    """The chain does not verify; the message is Go's x509 error text."""


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # noqa: BLE001 - wrong name, bad signature or an unsupported key: not its issuer
        return False
    return True


def build_chain(leaf: x509.Certificate, intermediates: Sequence[x509.Certificate],
                roots: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """leaf → ... → a root, or VerifyError("x509: certificate signed by unknown authority")."""
    chain = [leaf]
    cert = leaf
    if leaf in roots:
        return chain
    for _ in range(MAX_CHAIN_DEPTH):
        root = next((r for r in roots if r.subject == cert.issuer and _issued_by(cert, r)), None)
        if root is not None:
            chain.append(root)
            return chain
        parent = next((i for i in intermediates if i not in chain and i.subject == cert.issuer
                       and _issued_by(cert, i)), None)
        if parent is None:
            break
        chain.append(parent)
        cert = parent
    raise VerifyError("x509: certificate signed by unknown authority")


def check_usage(chain: Sequence[x509.Certificate]) -> None:
    """Intermediates must be CAs; every certificate that limits its usages must allow clientAuth."""
    for position, cert in enumerate(chain):
        if 0 < position < len(chain) - 1:
            try:
                constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            except x509.ExtensionNotFound:
                constraints = None
            if constraints is None or not constraints.ca:
                raise VerifyError("x509: certificate is not authorized to sign other certificates")
        try:
            usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if (ExtendedKeyUsageOID.CLIENT_AUTH not in usages
                and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages):
            raise VerifyError("x509: certificate specifies an incompatible key usage")


def check_validity(chain: Sequence[x509.Certificate], now: datetime.datetime) -> None:
    for cert in chain:
        if now < cert.not_valid_before_utc:
            raise VerifyError(
                "x509: certificate has expired or is not yet valid: current time "
                f"{now.strftime(_TIME_FORMAT)} is before {cert.not_valid_before_utc.strftime(_TIME_FORMAT)}")
        if now > cert.not_valid_after_utc:
            raise VerifyError(
                "x509: certificate has expired or is not yet valid: current time "
                f"{now.strftime(_TIME_FORMAT)} is after {cert.not_valid_after_utc.strftime(_TIME_FORMAT)}")
