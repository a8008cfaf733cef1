"""Authentication: who is making a request (k8s.io/apiserver/pkg/authentication)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from kernel.authentication.user import (
    ANONYMOUS,
    APISERVER_USER,
    AUTHENTICATED,
    MASTERS,
    UNAUTHENTICATED,
    UserInfo,
)

if TYPE_CHECKING:
    from kernel.endpoints.request import Request

__all__ = ["ANONYMOUS", "APISERVER_USER", "AUTHENTICATED", "MASTERS", "UNAUTHENTICATED", "AuthenticationError",
           "Authenticator", "AuthenticatorChain", "UserInfo", "bearer_token",
           "unverified_jwt_claims"]


class AuthenticationError(Exception):
    """A credential was presented but is not valid: the request ends with 401."""


class Authenticator(Protocol):
    async def authenticate(self, request: Request) -> UserInfo | None:
        """Return the user, ``None`` if the request carries no credential this authenticator
        understands, or raise :class:`AuthenticationError` if it carries a bad one."""


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, as kube's bearertoken authenticator reads it."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def unverified_jwt_claims(token: str) -> dict[str, Any] | None:
    """The payload of a compact JWT, not verified: what JWT authenticators read first to see
    whether a token is theirs (its ``iss``), as kube's do; None if the token is not a JWT."""
    if token.lstrip().startswith("{"):  # a JSON-serialised JWS is not a bearer token
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    return payload if isinstance(payload, dict) else None


class AuthenticatorChain:
    """kube's union authenticator with the authenticated-group adder and fail-on-error anonymous.

    The first authenticator that returns a user wins. If none does and one of them rejected a
    credential, the request is unauthenticated (401) even when anonymous auth is on.
    """

    def __init__(self, authenticators: Sequence[tuple[str, Authenticator]],
                 anonymous: Authenticator | None) -> None:
        self.authenticators = list(authenticators)
        self.anonymous = anonymous

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.authenticators] + (["anonymous"] if self.anonymous else [])

    async def authenticate(self, request: Request) -> UserInfo | None:
        errors: list[str] = []
        for name, authenticator in self.authenticators:
            try:
                user = await authenticator.authenticate(request)
            except AuthenticationError as error:
                errors.append(f"{name}: {error}")
                continue
            if user is not None:
                if AUTHENTICATED not in user.groups and ANONYMOUS != user.name:
                    user = UserInfo(user.name, user.uid, (*user.groups, AUTHENTICATED), user.extra)
                return user
        if errors:
            raise AuthenticationError("; ".join(errors))
        if bearer_token(request) is not None:
            # kube's bearer-token authenticator: a token nobody recognises is invalid, not absent.
            raise AuthenticationError("invalid bearer token")
        if self.anonymous is not None:
            return await self.anonymous.authenticate(request)
        return None
