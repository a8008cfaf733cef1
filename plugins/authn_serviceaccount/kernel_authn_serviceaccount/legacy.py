"""Legacy Secret tokens (kube's pkg/serviceaccount/legacy.go, with lookup on).

A token of issuer ``kubernetes/serviceaccount`` is valid while the ``kubernetes.io/service-
account-token`` Secret it names exists, is not being deleted, holds this very token and is not
labelled ``kubernetes.io/legacy-token-invalid-since``, and its ServiceAccount exists with the
uid the token names. Each use labels the Secret with the day it was last used (once a day).
"""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from kernel.authentication import AuthenticationError, UserInfo

from kernel_authn_serviceaccount.getter import ObjectGetter
from kernel_authn_serviceaccount.tokens import split_username

INVALID_SINCE_LABEL = "kubernetes.io/legacy-token-invalid-since"
LAST_USED_LABEL = "kubernetes.io/legacy-token-last-used"
_PREFIX = "kubernetes.io/serviceaccount/"

log = logging.getLogger("kernel_authn_serviceaccount")

#: ``await label_last_used(namespace, name, uid, day)``: patch the Secret's last-used label.
Labeller = Callable[[str, str, str, str], Awaitable[None]]


class LegacyValidator:
    def __init__(self, getter: ObjectGetter, user: Callable[..., UserInfo],
                 label_last_used: Labeller | None = None) -> None:
        self.getter = getter
        self.user = user
        self.label_last_used = label_last_used

    async def validate(self, token: str, claims: dict[str, Any]) -> UserInfo:
        subject = claims.get("sub") or ""
        if not subject:
            raise AuthenticationError("sub claim is missing")
        fields = {}
        for claim, what in (("namespace", "namespace"), ("secret.name", "secretName"),
                            ("service-account.name", "serviceAccountName"),
                            ("service-account.uid", "serviceAccountUID")):
            value = claims.get(_PREFIX + claim)
            if not isinstance(value, str) or not value:
                raise AuthenticationError(f"{what} claim is missing")
            fields[what] = value
        namespace, sa_name = fields["namespace"], fields["serviceAccountName"]
        if split_username(subject) != (namespace, sa_name):
            raise AuthenticationError("sub claim is invalid")
        secret = await self.getter.get("secrets", namespace, fields["secretName"])
        if secret is None or secret["metadata"].get("deletionTimestamp"):
            raise AuthenticationError("Token has been invalidated")
        stored = (secret.get("data") or {}).get("token", "")
        try:
            stored_token = base64.b64decode(stored)
        except ValueError:
            stored_token = b""
        if not hmac.compare_digest(stored_token, token.encode()):
            raise AuthenticationError("Token does not match server's copy")
        sa = await self.getter.get("serviceaccounts", namespace, sa_name)
        if sa is None:
            raise AuthenticationError(f'serviceaccounts "{sa_name}" not found')
        if sa["metadata"].get("deletionTimestamp"):
            raise AuthenticationError(f"ServiceAccount {namespace}/{sa_name} has been deleted")
        if sa["metadata"].get("uid") != fields["serviceAccountUID"]:
            raise AuthenticationError(f"ServiceAccount UID ({sa['metadata'].get('uid')}) does not "
                                      f"match claim ({fields['serviceAccountUID']})")
        labels = secret["metadata"].get("labels") or {}
        await self._mark_used(secret, labels)
        if labels.get(INVALID_SINCE_LABEL):
            raise AuthenticationError(
                f"the token in secret {namespace}/{secret['metadata']['name']} for service account "
                f"{namespace}/{sa_name} has been marked invalid. Use tokens from the TokenRequest "
                "API or manually created secret-based tokens, or remove the "
                f"'{INVALID_SINCE_LABEL}' label from the secret to temporarily allow use of this token")
        return self.user(namespace, sa_name, fields["serviceAccountUID"])

    async def _mark_used(self, secret: dict[str, Any], labels: dict[str, str]) -> None:
        if self.label_last_used is None:
            return
        now = datetime.now(timezone.utc)
        today = now.strftime("%Y-%m-%d")
        if labels.get(LAST_USED_LABEL) in (today, (now + timedelta(days=1)).strftime("%Y-%m-%d")):
            return
        meta = secret["metadata"]
        try:
            await self.label_last_used(meta["namespace"], meta["name"], meta.get("uid", ""), today)
        except Exception as error:  # kube logs and goes on: tracking never fails a request
            log.error("Failed to label legacy service account token %s/%s with last-used date, "
                      "err: %s", meta["namespace"], meta["name"], error)
