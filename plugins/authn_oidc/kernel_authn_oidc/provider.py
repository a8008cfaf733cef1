"""One issuer's discovery document and signing keys, fetched with httpx on trio and cached.

The first fetch starts with the server and is retried every :data:`RETRY_INTERVAL` seconds until
the issuer answers (as kube's does, so the server starts and serves while the issuer is down);
until then tokens of this issuer are refused ("authenticator not initialized") after one
on-demand attempt. Keys are refetched when a token names a key id the cached set lacks (key
rotation), at most once per :data:`REFETCH_MIN_INTERVAL` seconds however many such tokens
arrive, with concurrent requests sharing one fetch; and every :data:`REFRESH_INTERVAL` seconds so
a key the issuer withdrew stops being accepted.
"""

from __future__ import annotations

import json
import logging
import ssl
from typing import Any

import httpx
import jwt
import trio

from kernel_authn_oidc.config import JWTAuthenticator

log = logging.getLogger("kernel_authn_oidc")

WELL_KNOWN = "/.well-known/openid-configuration"
RETRY_INTERVAL = 10.0
REFETCH_MIN_INTERVAL = 1.0
REFRESH_INTERVAL = 3600.0
HTTP_TIMEOUT = 5.0
MAX_DOCUMENT = 1 << 20


class ProviderError(Exception):
    pass


class Provider:
    def __init__(self, config: JWTAuthenticator) -> None:
        self.issuer = config.url
        self.discovery_url = config.discovery_url or config.url.rstrip("/") + WELL_KNOWN
        if config.certificate_authority:
            self._tls = ssl.create_default_context(cadata=config.certificate_authority)
        else:
            self._tls = ssl.create_default_context()  # the host's roots, as kube uses
        self.jwks_uri = ""
        self.jwks: list[dict[str, Any]] = []
        self.generation = 0  # bumped by each successful key fetch
        self.last_error = ""
        self.fetches = 0  # attempts, for tests and logs
        self._lock = trio.Lock()
        self._last_attempt: float | None = None
        self._keys: dict[tuple[int, str], Any] = {}  # (JWKS index, alg) → verification key

    @property
    def initialized(self) -> bool:
        return bool(self.jwks_uri)

    async def _get_json(self, client: httpx.AsyncClient, url: str) -> dict[str, Any]:
        response = await client.get(url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise ProviderError(f"{url}: {response.status_code} {response.reason_phrase}")
        if len(response.content) > MAX_DOCUMENT:
            raise ProviderError(f"{url}: document too large")
        try:
            document = json.loads(response.content)
        except ValueError as error:
            raise ProviderError(f"{url}: not JSON: {error}") from None
        if not isinstance(document, dict):
            raise ProviderError(f"{url}: not a JSON object")
        return document

    async def _fetch(self) -> None:
        async with httpx.AsyncClient(verify=self._tls, timeout=HTTP_TIMEOUT,
                                     follow_redirects=True) as client:
            jwks_uri = self.jwks_uri
            if not jwks_uri:
                discovery = await self._get_json(client, self.discovery_url)
                if discovery.get("issuer") != self.issuer:
                    raise ProviderError("oidc: issuer did not match the issuer returned by provider, "
                                        f'expected "{self.issuer}" got "{discovery.get("issuer")}"')
                jwks_uri = discovery.get("jwks_uri")
                if not isinstance(jwks_uri, str) or not jwks_uri:
                    raise ProviderError(f"{self.discovery_url}: no jwks_uri")
            keys = (await self._get_json(client, jwks_uri)).get("keys")
            if not isinstance(keys, list):
                raise ProviderError(f"{jwks_uri}: no keys")
        self.jwks_uri = jwks_uri
        self.jwks = [k for k in keys if isinstance(k, dict)]
        self._keys = {}
        self.generation += 1

    async def refresh(self, *, on_demand: bool) -> None:
        """Fetch discovery (once) and keys; on demand, rate-limited and shared with concurrent callers."""
        seen = self.generation
        async with self._lock:
            if on_demand and self.generation != seen:
                return  # a fetch finished while we waited: use its keys
            now = trio.current_time()
            if (on_demand and self._last_attempt is not None
                    and now - self._last_attempt < REFETCH_MIN_INTERVAL):
                return
            self._last_attempt = now
            self.fetches += 1
            try:
                await self._fetch()
            except (httpx.HTTPError, ProviderError, OSError, ssl.SSLError) as error:
                self.last_error = str(error) or type(error).__name__
                log.warning("oidc issuer %s: fetching keys failed: %s", self.issuer, self.last_error)
                return
            self.last_error = ""
            log.info("oidc issuer %s: %d signing key(s) loaded from %s", self.issuer, len(self.jwks),
                     self.jwks_uri)

    async def run(self) -> None:
        """Initial fetch with retries, then periodic refreshes; runs until cancelled."""
        while not self.initialized:
            await self.refresh(on_demand=False)
            if not self.initialized:
                await trio.sleep(RETRY_INTERVAL)
        while True:
            await trio.sleep(REFRESH_INTERVAL)
            await self.refresh(on_demand=False)

    def _candidates(self, kid: str | None, alg: str) -> list[Any]:
        """Keys that may have signed a token with this header (go-oidc: no kid tries every key)."""
        found = []
        for index, jwk in enumerate(self.jwks):
            if kid is not None and jwk.get("kid") != kid:
                continue
            if jwk.get("alg") not in (None, alg) or jwk.get("use") not in (None, "sig"):
                continue
            cache_key = (index, alg)
            if cache_key not in self._keys:
                try:
                    self._keys[cache_key] = jwt.PyJWK(jwk, algorithm=alg).key
                except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
                    self._keys[cache_key] = None  # another key type or a bad key: not usable for alg
            if self._keys[cache_key] is not None:
                found.append(self._keys[cache_key])
        return found

    async def keys_for(self, kid: str | None, alg: str) -> list[Any]:
        """Verification keys for a token's kid and alg, refetching once if the kid is unknown."""
        if not self.initialized:
            await self.refresh(on_demand=True)
            if not self.initialized:
                raise ProviderError("oidc: authenticator not initialized")
        keys = self._candidates(kid, alg)
        if not keys and kid is not None:
            await self.refresh(on_demand=True)
            keys = self._candidates(kid, alg)
        return keys
