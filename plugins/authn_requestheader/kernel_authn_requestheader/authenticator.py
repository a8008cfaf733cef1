"""The request-header authenticator (k8s.io/apiserver/pkg/authentication/request/headerrequest).

A front proxy (kube's aggregator, or any proxy holding a certificate of the request-header CA)
authenticates the user itself and passes the identity on in headers. Headers are believed only
from a client certificate that verifies against ``--requestheader-client-ca-file`` (not against
``--client-ca-file``: a user's certificate must never let its owner claim to be someone else),
with client-auth usage, and whose CommonName is in ``--requestheader-allowed-names`` (empty: any).
Without a client certificate the authenticator passes (``None``); with a certificate it does not
trust, the request fails (401). Once it decided, the identity headers are removed from the
request so no handler (or proxy behind it) reads them.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID

from kernel.authentication import AuthenticationError, UserInfo
from kernel.endpoints.request import Request
from kernel_authn_x509.verify import VerifyError, build_chain, check_usage, check_validity


def unescape_extra_key(encoded: str) -> str:
    """Extra keys travel percent-encoded (header names cannot hold every character); kube keeps
    a key that does not decode as it came."""
    try:
        return unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        return encoded


class RequestHeaderAuthenticator:
    """User, groups and extra from headers, trusted for front-proxy client certificates only."""

    def __init__(self, roots: Sequence[x509.Certificate], allowed_names: Sequence[str],
                 username_headers: Sequence[str], group_headers: Sequence[str],
                 extra_prefixes: Sequence[str]) -> None:
        self.roots = list(roots)
        self.content = b""  # the PEM the roots came from (the reload hook compares it)
        self.allowed_names = [name for name in allowed_names if name]
        self.username_headers = [h.lower() for h in username_headers if h]
        self.group_headers = [h.lower() for h in group_headers if h]
        self.extra_prefixes = [p.lower() for p in extra_prefixes if p]

    def _verify(self, pem_chain: Sequence[str]) -> None:
        try:
            presented = [x509.load_pem_x509_certificate(pem.encode()) for pem in pem_chain]
        except ValueError as error:
            raise AuthenticationError(f"requestheader: malformed client certificate: {error}") from None
        try:
            chain = build_chain(presented[0], presented[1:], self.roots)
            check_usage(chain)
            check_validity(chain, datetime.datetime.now(datetime.timezone.utc))
        except VerifyError as error:
            raise AuthenticationError(f"requestheader: {error}") from None
        if self.allowed_names:
            names = [str(a.value) for a in presented[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
            common_name = names[-1] if names else ""
            if common_name not in self.allowed_names:
                raise AuthenticationError(f"x509: subject with cn={common_name} is not in the allowed list")

    def _values(self, request: Request) -> dict[str, list[str]]:
        """Every header's values by lower-cased name, repeated headers kept apart (Go's Header)."""
        values: dict[str, list[str]] = {}
        for raw_name, raw_value in request.scope["headers"]:
            values.setdefault(raw_name.decode("latin-1").lower(), []).append(raw_value.decode("latin-1"))
        return values

    def _extra(self, values: dict[str, list[str]]) -> dict[str, list[str]]:
        extra: dict[str, list[str]] = {}
        for name, header_values in values.items():
            for prefix in self.extra_prefixes:
                if name.startswith(prefix) and len(name) > len(prefix):
                    key = unescape_extra_key(name[len(prefix):]).lower()
                    extra.setdefault(key, []).extend(header_values)
                    break
        return extra

    def _clear(self, request: Request, values: dict[str, list[str]]) -> None:
        for name in values:
            if name in self.username_headers or name in self.group_headers or any(
                    name.startswith(prefix) for prefix in self.extra_prefixes):
                request.remove_header(name)

    async def authenticate(self, request: Request) -> UserInfo | None:
        pem_chain = request.client_certificates
        if not pem_chain:
            return None
        self._verify(pem_chain)
        values = self._values(request)
        name = next((v[0].strip() for h in self.username_headers
                     if (v := values.get(h)) and v[0].strip()), "")
        if not name:
            return None  # a trusted proxy that names nobody: let the next authenticator try
        groups = tuple(g for h in self.group_headers for g in values.get(h, ()))
        extra = self._extra(values)
        self._clear(request, values)
        return UserInfo(name, "", groups, extra)
