"""The connection to one remote APIService: TLS (``spec.caBundle`` or insecureSkipTLSVerify, and
the proxy client certificate) and the front-proxy headers that carry the user."""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import msgspec

from kernel_webhook.resolve import Target

if TYPE_CHECKING:
    import httpx

#: The front-proxy headers kube sends (and the request-header authenticator reads by default).
USER_HEADER, GROUP_HEADER, EXTRA_PREFIX = "X-Remote-User", "X-Remote-Group", "X-Remote-Extra-"
#: Headers never passed on: hop-by-hop, the client's credentials, identity claims of its own.
_DROPPED = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "te", "upgrade",
                      "proxy-connection", "content-length", "authorization"})
_DROPPED_PREFIXES = ("x-remote-", "impersonate-")


def ssl_context(ca_bundle: bytes | None, insecure: bool, cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_bundle:
        context = ssl.create_default_context(cadata=ca_bundle.decode("ascii", "replace"))
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def proxy_headers(user: str, groups: Sequence[str], extra: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """kube's SetAuthProxyHeaders: the user, each group, each extra value (keys percent-encoded)."""
    headers = [(USER_HEADER, user), *((GROUP_HEADER, g) for g in groups)]
    for key, values in extra.items():
        headers += [(EXTRA_PREFIX + quote(key, safe=""), v) for v in values]
    return headers


def forwarded_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    kept = []
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        if name in _DROPPED or name.startswith(_DROPPED_PREFIXES):
            continue
        kept.append((name, raw_value.decode("latin-1")))
    return kept


class Backend(msgspec.Struct):
    """A remote APIService's resolved address and client (rebuilt when its spec or address changes)."""

    name: str
    group: str
    version: str
    target: Target | None  # None: the service did not resolve
    key: tuple[Any, ...]  # what it was built from: spec, target
    client: httpx.AsyncClient | None
    available: bool = False
    message: str = ""
    #: the aggregated discovery version entry, and its entry of the backend's /openapi/v3
    discovery: dict[str, Any] = msgspec.field(default_factory=dict)
    openapi: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def extensions(self) -> dict[str, Any]:
        """Per-request httpx extensions: verify the service's name, not the address dialled."""
        return {"sni_hostname": self.target.server_name} if self.target else {}

    @classmethod
    def unresolved(cls, name: str, spec: Mapping[str, Any], message: str) -> Backend:
        return cls(name, spec.get("group", ""), spec.get("version", ""), None, (), None, False, message)

    @classmethod
    def build(cls, name: str, spec: Mapping[str, Any], target: Target, cert_file: str,
              key_file: str) -> Backend:
        import base64

        import httpx  # here, not at startup: about 50 ms, and most servers aggregate nothing

        ca = base64.b64decode(spec["caBundle"]) if spec.get("caBundle") else None
        context = ssl_context(ca, bool(spec.get("insecureSkipTLSVerify")), cert_file, key_file)
        # The server name to verify is the service's, whatever address it resolved to.
        transport = httpx.AsyncHTTPTransport(verify=context)
        client = httpx.AsyncClient(base_url=target.url, transport=transport, timeout=None)
        return cls(name, spec.get("group", ""), spec.get("version", ""), target,
                   (repr(sorted(spec.items())), target), client)
