"""A real OpenID Connect issuer for tests: HTTPS on 127.0.0.1 with its own CA, discovery, JWKS,
and RS256/ES256 (or any asymmetric JOSE algorithm) signing keys; nothing mocked.

    issuer = LocalIssuer().start()
    kid = issuer.add_key("ES256")
    token = issuer.token(sub="jane", aud="kubernetes", kid=kid)
    ...
    issuer.rotate("RS256")                  # a new key, published in place of the old ones
    issuer.stop()

It serves from a thread (``http.server``), so it works for in-process trio servers and for
``kernel serve`` subprocesses alike. ``requests`` counts the hits per path.
"""

from __future__ import annotations

import collections
import json
import tempfile
import time
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kernel.testing.tls import TLSRequestHandler, free_port, serve_https, serving_material

_CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}


def _private_key(alg: str) -> Any:
    if alg in _CURVES:
        return ec.generate_private_key(_CURVES[alg]())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_jwk(alg: str, key: Any, kid: str) -> dict[str, Any]:
    family = jwt.algorithms.ECAlgorithm if alg in _CURVES else jwt.algorithms.RSAAlgorithm
    jwk = family.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


class LocalIssuer:
    def __init__(self, port: int = 0, path: str = "") -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="local-oidc-")
        self.ca_file, self._cert_file, self._key_file = serving_material(Path(self._directory.name))
        self.port = port or free_port()
        self.path = path.rstrip("/")
        self.keys: dict[str, tuple[str, Any]] = {}  # kid → (alg, private key)
        self.published: list[str] = []
        self.requests: collections.Counter[str] = collections.Counter()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{self.path}"

    @property
    def ca_pem(self) -> str:
        return Path(self.ca_file).read_text()

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.url, "jwks_uri": f"{self.url}/keys",
                "id_token_signing_alg_values_supported": sorted({a for a, _ in self.keys.values()}),
                "response_types_supported": ["id_token"], "subject_types_supported": ["public"]}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [_public_jwk(self.keys[kid][0], self.keys[kid][1], kid)
                         for kid in self.published]}

    # -- keys and tokens ------------------------------------------------------------------------

    def add_key(self, alg: str = "RS256", *, publish: bool = True, kid: str | None = None) -> str:
        kid = kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}"
        self.keys[kid] = (alg, _private_key(alg))
        if publish:
            self.published.append(kid)
        return kid

    def rotate(self, alg: str = "RS256") -> str:
        """A new key that replaces every published one."""
        kid = self.add_key(alg, publish=False)
        self.published = [kid]
        return kid

    def token(self, kid: str | None = None, *, header: dict[str, Any] | None = None,
              ttl: float = 600, **claims: Any) -> str:
        """A JWT signed with ``kid`` (default: the first published key); ``iss``, ``iat`` and
        ``exp`` are filled in unless given (pass ``exp=None`` to leave a claim out)."""
        kid = kid or self.published[0]
        alg, key = self.keys[kid]
        now = int(time.time())
        payload = {"iss": self.url, "iat": now, "exp": now + int(ttl), **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, **(header or {})})

    @staticmethod
    def unsigned_token(**claims: Any) -> str:
        """An ``alg: none`` token (no signature at all)."""
        return jwt.encode(claims, None, algorithm="none")

    # -- serving --------------------------------------------------------------------------------

    def start(self) -> LocalIssuer:
        issuer = self

        class Handler(TLSRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                issuer.requests[self.path] += 1
                documents = {f"{issuer.path}/.well-known/openid-configuration": issuer.discovery,
                             f"{issuer.path}/keys": issuer.jwks}
                if self.path not in documents:
                    self.send_error(404)
                    return
                body = json.dumps(documents[self.path]()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = serve_https(Handler, self.port, self._cert_file, self._key_file,
                             name="local-oidc-issuer")
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalIssuer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self._directory.cleanup()
