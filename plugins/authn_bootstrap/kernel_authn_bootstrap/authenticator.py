"""The bootstrap token authenticator (k8s.io/kubernetes/plugin/pkg/auth/authenticator/token/bootstrap).

A token ``<id>.<secret>`` matches the Secret ``kube-system/bootstrap-token-<id>`` of type
``bootstrap.kubernetes.io/token``, read from the shared secrets informer (memory, no store read per
request). It authenticates as ``system:bootstrap:<id>`` in ``system:bootstrappers`` and the
secret's ``auth-extra-groups`` when the secret is not being deleted, its ``token-secret`` matches
(compared in constant time) as does its ``token-id``, it has not expired and it is marked
``usage-bootstrap-authentication: "true"``. Any other outcome is "not this authenticator's token",
as in kube: the chain then answers 401 unless another authenticator knows the token.
"""

from __future__ import annotations

import datetime
import hmac
import logging
from typing import TYPE_CHECKING, Any, Protocol

import trio

from kernel import logs
from kernel.authentication import UserInfo, bearer_token
from kernel_authn_bootstrap import secrets

if TYPE_CHECKING:
    from kernel.endpoints.request import Request

log = logging.getLogger("kernel.authn_bootstrap")
#: How long a request waits for the informer's first list (then the secret is "not found").
SYNC_TIMEOUT = 5.0


class SecretLister(Protocol):
    """What is read of the secrets informer."""

    has_synced: bool

    def get(self, name: str, namespace: str = "") -> Any: ...

    async def wait_synced(self) -> None: ...


def _refused(secret: Any, why: str) -> None:
    metadata = secret.get("metadata") or {}
    log.log(logs.level(3), "Bootstrap secret %s/%s matching bearer token %s",
            metadata.get("namespace"), metadata.get("name"), why)


class BootstrapTokenAuthenticator:
    def __init__(self, lister: SecretLister) -> None:
        self.lister = lister

    async def authenticate(self, request: Request) -> UserInfo | None:
        token = bearer_token(request)
        parsed = secrets.parse_token(token) if token is not None else None
        if parsed is None:
            return None
        token_id, token_secret = parsed
        if not self.lister.has_synced:
            with trio.move_on_after(SYNC_TIMEOUT):
                await self.lister.wait_synced()
        name = secrets.SECRET_PREFIX + token_id
        secret = self.lister.get(name, secrets.NAMESPACE)
        if secret is None:
            log.log(logs.level(3), "No secret of name %s to match bootstrap bearer token", name)
            return None
        if (secret.get("metadata") or {}).get("deletionTimestamp"):
            return _refused(secret, "is deleted and awaiting removal")
        if secret.get("type") != secrets.SECRET_TYPE or not secret.get("data"):
            return _refused(secret, f"has invalid type, expected {secrets.SECRET_TYPE}.")
        stored = secrets.data(secret, secrets.TOKEN_SECRET_KEY)
        if not hmac.compare_digest(stored.encode(), token_secret.encode()):
            return _refused(secret, f"has invalid value for key {secrets.TOKEN_SECRET_KEY}.")
        if secrets.data(secret, secrets.TOKEN_ID_KEY) != token_id:
            return _refused(secret, f"has invalid value for key {secrets.TOKEN_ID_KEY}.")
        if secrets.expired(secret, datetime.datetime.now(datetime.timezone.utc)):
            return _refused(secret, "has expired.")
        if secrets.data(secret, secrets.USAGE_AUTHENTICATION_KEY) != "true":
            return _refused(secret, f"not marked {secrets.USAGE_AUTHENTICATION_KEY}=true.")
        try:
            groups = secrets.groups(secret)
        except secrets.GroupError as error:
            return _refused(secret, f"has invalid value for key {secrets.EXTRA_GROUPS_KEY}: {error}.")
        return UserInfo(secrets.USER_PREFIX + token_id, groups=tuple(groups))
