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


def create_routes(issuer: str, jwks_uri: Callable[[], str], keys: KeySet) -> dict[str, Any]:
    """``{prefix: QuartTrio app}`` for kernel_routes; the documents are rendered on first use
    (the JWKS URI names the port, known once serving)."""
    from quart import Response
    from quart_trio import QuartTrio

    rendered: list[bytes] = []

    def document(index: int) -> bytes:
        if not rendered:
            rendered.extend(documents(issuer, jwks_uri(), keys))
        return rendered[index]

    def app_serving(name: str, path: str, index: int, content_type: str) -> QuartTrio:
        app = QuartTrio(name)

        async def serve() -> Response:
            return Response(document(index), 200, {"Content-Type": content_type,
                                                   "Cache-Control": f"public, max-age={MAX_AGE}"})

        # kube's routes answer with and without the trailing slash
        app.add_url_rule(path, name, serve, methods=["GET"], strict_slashes=False)
        return app

    return {"/.well-known": app_serving("openid_configuration", "/openid-configuration", 0,
                                        "application/json"),
            "/openid": app_serving("openid_jwks", "/v1/jwks", 1, MIME_JWKS)}
