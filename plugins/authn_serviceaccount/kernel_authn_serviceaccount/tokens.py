"""Service account token claims and signing (kube's pkg/serviceaccount claims.go and jwt.go).

A bound token carries the public claims (iss, sub, aud, exp, iat, nbf, jti) and kube's private
``kubernetes.io`` claim: namespace, serviceaccount {name, uid}, the bound pod/secret/node
{name, uid} and ``warnafter`` for an extended admission-injected token. A legacy token (of a
``kubernetes.io/service-account-token`` Secret) has issuer ``kubernetes/serviceaccount`` and
the ``kubernetes.io/serviceaccount/*`` claims instead.
"""

from __future__ import annotations

import time
import functools
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from kernel_authn_serviceaccount.keys import KeySet, algorithm

Object = Mapping[str, Any]

#: An admission-injected token asks for this lifetime (1h + 7s); with
#: --service-account-extend-token-expiration it is issued for a year and warned about after it.
WARN_ONLY_BOUND_TOKEN_EXPIRATION = 60 * 60 + 7
EXPIRATION_EXTENSION_SECONDS = 24 * 365 * 60 * 60
LEGACY_ISSUER = "kubernetes/serviceaccount"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


def make_username(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def split_username(username: str) -> tuple[str, str] | None:
    """``system:serviceaccount:ns:name`` → (ns, name); None when it is not one."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username.removeprefix(SERVICE_ACCOUNT_PREFIX).split(":")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


def _ref(obj: Object) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {"name": meta.get("name", ""), "uid": meta.get("uid", "")}


def claims(sa: Object, audiences: Sequence[str], expiration_seconds: int, *,
           pod: Object | None = None, secret: Object | None = None, node: Object | None = None,
           warn_after: int = 0, now: float | None = None) -> dict[str, Any]:
    """The claims of a bound token (kube's serviceaccount.Claims), without ``iss``."""
    issued = int(now if now is not None else time.time())
    meta = sa.get("metadata") or {}
    private: dict[str, Any] = {"namespace": meta.get("namespace", ""), "serviceaccount": _ref(sa)}
    if pod is not None:
        private["pod"] = _ref(pod)
        if node is not None:  # ServiceAccountTokenPodNodeInfo: the pod's node rides along
            private["node"] = _ref(node)
    elif secret is not None:
        private["secret"] = _ref(secret)
    elif node is not None:
        private["node"] = _ref(node)
    if warn_after:
        private["warnafter"] = issued + warn_after
    return {
        "aud": list(audiences),
        "exp": issued + expiration_seconds,
        "iat": issued,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": private,
        "nbf": issued,
        "sub": make_username(private["namespace"], meta.get("name", "")),
    }


class TokenGenerator:
    """Signs tokens for one issuer with the signing key (kid: kube's key id)."""

    def __init__(self, issuer: str, keys: KeySet) -> None:
        self.issuer = issuer
        self.keys = keys

    @functools.cached_property
    def algorithm(self) -> str:
        return algorithm(self.keys.signing_key)

    def generate(self, token_claims: Mapping[str, Any]) -> str:
        import jwt  # with the keys: on the first token issued (see keys.py)

        return jwt.encode({**token_claims, "iss": self.issuer}, self.keys.signing_key,
                          algorithm=self.algorithm, headers={"kid": self.keys.signing_kid})
