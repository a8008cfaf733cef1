"""JWT authenticators (k8s.io/apiserver/plugin/pkg/authenticator/token/oidc) on PyJWT.

A bearer token is routed by its *unverified* ``iss`` to the authenticator of that issuer; a token
that is not a JWT, or whose issuer is not configured, is not ours (the next authenticator may
know it). For our issuers every check failing is a 401: the header's ``alg`` must be one of the
allowed algorithms (``none`` never is), the signature must verify with one of the issuer's keys
(PyJWT does the cryptography), ``iss`` must match, ``aud`` must contain one of the audiences,
``exp`` is required and ``exp``/``nbf``/``iat`` are checked with :data:`CLOCK_SKEW` seconds of
leeway. Then kube's claim mappings: username (``email`` is refused when ``email_verified`` is
present and false), groups (a string or a list), uid, and the required claims.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import jwt
import trio

from kernel.authentication import AuthenticationError, UserInfo, bearer_token, unverified_jwt_claims
from kernel.endpoints.request import Request

from kernel_authn_oidc.config import AuthenticationConfig, JWTAuthenticator
from kernel_authn_oidc.provider import Provider, ProviderError

log = logging.getLogger("kernel_authn_oidc")

CLOCK_SKEW = 10.0


def untrusted_issuer(token: str) -> str | None:
    """The ``iss`` of a compact JWT, unverified; None if the token is not one."""
    issuer = (unverified_jwt_claims(token) or {}).get("iss")
    return issuer if isinstance(issuer, str) else None


def _string_claim(claims: Mapping[str, Any], name: str, what: str) -> str:
    if name not in claims:
        raise AuthenticationError(f'oidc: parse {what} "{name}": claim not present')
    value = claims[name]
    if not isinstance(value, str):
        raise AuthenticationError(f'oidc: parse {what} "{name}": not a string')
    return value


class IssuerAuthenticator:
    """One JWT authenticator: an issuer, its keys and its claim mappings."""

    def __init__(self, config: JWTAuthenticator, signing_algs: tuple[str, ...]) -> None:
        self.config = config
        self.signing_algs = signing_algs
        self.provider = Provider(config)

    async def authenticate_token(self, token: str) -> UserInfo:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise AuthenticationError(f"oidc: malformed jwt: {error}") from None
        alg = header.get("alg")
        if alg not in self.signing_algs:
            raise AuthenticationError(
                "oidc: verify token: oidc: id token signed with unsupported algorithm, expected "
                f"{list(self.signing_algs)} got {alg!r}")
        kid = header.get("kid")
        try:
            keys = await self.provider.keys_for(kid if isinstance(kid, str) else None, alg)
        except ProviderError as error:
            raise AuthenticationError(str(error)) from None
        claims = self._verify(token, alg, keys)
        return self._user(claims)

    def _verify(self, token: str, alg: str, keys: list[Any]) -> dict[str, Any]:
        for key in keys:
            try:
                return jwt.decode(token, key, algorithms=[alg], audience=list(self.config.audiences),
                                  issuer=self.config.url, leeway=CLOCK_SKEW,
                                  options={"require": ["exp", "iss", "aud"]})
            except jwt.InvalidSignatureError:
                continue  # maybe another key with this kid (or no kid) signed it
            except jwt.PyJWTError as error:
                raise AuthenticationError(f"oidc: verify token: {error}") from None
        raise AuthenticationError("oidc: verify token: failed to verify signature: "
                                  "failed to verify id token signature")

    def _user(self, claims: Mapping[str, Any]) -> UserInfo:
        mapping = self.config.username
        username = _string_claim(claims, mapping.claim, "username claims")
        if mapping.claim == "email" and "email_verified" in claims:
            verified = claims["email_verified"]
            if not isinstance(verified, bool):
                raise AuthenticationError("oidc: parse 'email_verified' claim: not a boolean")
            if not verified:
                raise AuthenticationError("oidc: email not verified")
        groups: tuple[str, ...] = ()
        if self.config.groups is not None and self.config.groups.claim in claims:
            value = claims[self.config.groups.claim]
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise AuthenticationError(f'oidc: parse groups claim "{self.config.groups.claim}": '
                                          "not a string or an array of strings")
            groups = tuple(self.config.groups.prefix + g for g in values)
        uid = _string_claim(claims, self.config.uid_claim, "uid claim") if self.config.uid_claim else ""
        for claim, wanted in self.config.required_claims:
            if claim not in claims:
                raise AuthenticationError(f"oidc: required claim {claim} not present in ID token")
            value = claims[claim]
            if not isinstance(value, str):
                raise AuthenticationError(f"oidc: parse claim {claim}: not a string")
            if value != wanted:
                raise AuthenticationError(f"oidc: required claim {claim} value does not match. "
                                          f"Got = {value}, want = {wanted}")
        return UserInfo(mapping.prefix + username, uid, groups)


class OIDCAuthenticator:
    """The ``oidc`` authenticator: every configured issuer; the configuration can be replaced live."""

    def __init__(self, config: AuthenticationConfig) -> None:
        self.issuers: dict[str, IssuerAuthenticator] = {}
        self._nursery: trio.Nursery | None = None
        self._scopes: dict[str, trio.CancelScope] = {}
        self.source = b""  # the --authentication-config content the configuration came from
        self.configure(config)

    def configure(self, config: AuthenticationConfig) -> None:
        """Switch to ``config``; issuers whose settings did not change keep their cached keys."""
        issuers = {}
        for jwt_config in config.jwt:
            old = self.issuers.get(jwt_config.url)
            if old is not None and old.config == jwt_config and old.signing_algs == config.signing_algs:
                issuers[jwt_config.url] = old
            else:
                issuers[jwt_config.url] = IssuerAuthenticator(jwt_config, config.signing_algs)
        for url, old in self.issuers.items():
            if issuers.get(url) is not old and url in self._scopes:
                self._scopes.pop(url).cancel()
        self.issuers = issuers
        if self._nursery is not None:
            self._start_providers()

    def _start_providers(self) -> None:
        assert self._nursery is not None
        for url, issuer in self.issuers.items():
            if url not in self._scopes:
                scope = self._scopes[url] = trio.CancelScope()
                self._nursery.start_soon(self._run_provider, scope, issuer.provider)

    @staticmethod
    async def _run_provider(scope: trio.CancelScope, provider: Provider) -> None:
        with scope:
            await provider.run()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Fetch every issuer's keys in the background until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._start_providers()
            task_status.started()
            await trio.sleep_forever()

    async def authenticate(self, request: Request) -> UserInfo | None:
        token = bearer_token(request)
        if token is None:
            return None
        issuer = self.issuers.get(untrusted_issuer(token) or "")
        if issuer is None:
            return None  # not a JWT of ours
        return await issuer.authenticate_token(token)
