"""OIDC discovery of the service account issuer (kube's pkg/serviceaccount/openidmetadata.go and
pkg/routes/openidmetadata.go): ``/.well-known/openid-configuration`` and ``/openid/v1/jwks``.

Both documents are rendered once at startup (the keys are static) and served with kube's
``Cache-Control: public, max-age=3600``; the keyset as ``application/jwk-set+json``. They sit
behind authentication and authorization like every non-resource URL: kube's bootstrap policy
grants ``get`` on them to ``system:serviceaccounts`` (system:service-account-issuer-discovery).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from kernel_authn_serviceaccount.keys import KeySet, jwk

OPENID_CONFIG_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
MAX_AGE = 3600  # kube's static key getter: GetCacheAgeMaxSeconds
MIME_JWKS = "application/jwk-set+json"


def discovery_error(issuer: str, jwks_uri: str) -> str | None:
    """Why kube would not serve discovery for this issuer (NewOpenIDMetadataProvider), or None."""
    parts = urlsplit(issuer)
    if parts.scheme != "https":
        return f"issuer URL must use https scheme, got: {issuer}"
    if parts.query:
        return f"issuer URL may not include a query, got: {issuer}"
    if parts.fragment:
        return f"issuer URL may not include a fragment, got: {issuer}"
    if jwks_uri and urlsplit(jwks_uri).scheme != "https":
        return f"jwksURI requires https scheme, parsed as: {jwks_uri}"
    return None


def documents(issuer: str, jwks_uri: str, keys: KeySet) -> tuple[bytes, bytes]:
    """The openid-configuration and the JWKS, as JSON."""
    keyset = [jwk(key) for key in keys.public_keys]
    algs = sorted({key["alg"] for key in keyset})
    config = {"issuer": issuer, "jwks_uri": jwks_uri, "response_types_supported": ["id_token"],
              "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": algs}
    return json.dumps(config).encode(), json.dumps({"keys": keyset}).encode()


def default_jwks_uri(host: str, port: int) -> str:
    """``https://<external address>/openid/v1/jwks`` (kube builds it from --external-hostname)."""
    host = f"[{host}]" if ":" in host else host
    return f"https://{host}:{port}{JWKS_PATH}"


class _Document:
    """One document at one path (with or without a trailing slash) as a bare ASGI app: two static
    documents do not need a web framework (Quart-Trio cost ~130 ms of CPU at every start).
    GET and HEAD answer it; other methods 405 with ``Allow``; other paths 404."""

    def __init__(self, path: str, render: Callable[[], bytes], content_type: str) -> None:
        self.path = path
        self.render = render
        self.content_type = content_type.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):  # the kernel mounts us with root_path = the prefix
            path = path[len(root):]
        if path.rstrip("/") != self.path:
            await _send(send, 404, [(b"content-type", b"text/plain")], b"404 page not found\n")
        elif scope["method"] not in ("GET", "HEAD"):
            await _send(send, 405, [(b"allow", b"GET, HEAD"), (b"content-type", b"text/plain")],
                        b"405: Method Not Allowed\n")
        else:
            body = self.render()
            await _send(send, 200, [(b"content-type", self.content_type),
                                    (b"cache-control", f"public, max-age={MAX_AGE}".encode())],
                        body, head=scope["method"] == "HEAD")


async def _send(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes,
                head: bool = False) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


def create_routes(issuer: str, jwks_uri: Callable[[], str], keys: KeySet) -> dict[str, Any]:
    """``{prefix: ASGI app}`` for kernel_routes; the documents are rendered on first use
    (the JWKS URI names the port, known once serving)."""
    rendered: list[bytes] = []

    def document(index: int) -> Callable[[], bytes]:
        def render() -> bytes:
            if not rendered:
                rendered.extend(documents(issuer, jwks_uri(), keys))
            return rendered[index]
        return render

    return {"/.well-known": _Document("/openid-configuration", document(0), "application/json"),
            "/openid": _Document("/v1/jwks", document(1), MIME_JWKS)}
