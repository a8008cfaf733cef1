"""The ``serviceaccount`` authenticator (kube's pkg/serviceaccount jwt.go, claims.go, legacy.go).

A bearer JWT whose unverified ``iss`` is one of ``--service-account-issuer`` is a bound token:
its signature must verify with one of the keys (by ``kid``), its audiences must meet
``--api-audiences``, its times hold with go-jose's one minute of leeway, and the service account
(and the pod, secret or node it is bound to) must still exist with the uid it names. A token of
issuer ``kubernetes/serviceaccount`` is a legacy Secret token: accepted while its Secret exists,
holds that very token and is not labelled invalid. Any other token is not ours.
"""

from __future__ import annotations

import hmac
import time
from datetime import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kernel.authentication import AuthenticationError, UserInfo, bearer_token, unverified_jwt_claims
from kernel.endpoints.request import Request

from kernel_authn_serviceaccount.getter import ObjectGetter
from kernel_authn_serviceaccount.keys import KeySet, algorithm
from kernel_authn_serviceaccount.legacy import LegacyValidator
from kernel_authn_serviceaccount.tokens import (ALL_SERVICE_ACCOUNTS_GROUP, LEGACY_ISSUER,
                                                make_username)

if TYPE_CHECKING:
    from kernel_authn_serviceaccount.keys import PublicKey

#: go-jose's jwt.DefaultLeeway, which kube's claim validation uses.
LEEWAY = 60.0

POD_NAME = "authentication.kubernetes.io/pod-name"
POD_UID = "authentication.kubernetes.io/pod-uid"
NODE_NAME = "authentication.kubernetes.io/node-name"
NODE_UID = "authentication.kubernetes.io/node-uid"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


def go_strings(values: Sequence[str]) -> str:
    """A []string as Go's %q prints it: ``["a" "b"]``."""
    return "[" + " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "]"


def service_account_user(namespace: str, name: str, uid: str, *, pod: tuple[str, str] | None = None,
                         node: tuple[str, str] | None = None, jti: str = "") -> UserInfo:
    """kube's ServiceAccountInfo.UserInfo (system:authenticated is added by the chain)."""
    extra: dict[str, list[str]] = {}
    if pod and pod[0] and pod[1]:
        extra[POD_NAME], extra[POD_UID] = [pod[0]], [pod[1]]
    if jti:
        extra[CREDENTIAL_ID] = [f"JTI={jti}"]
    if node and node[0]:
        extra[NODE_NAME] = [node[0]]
        if node[1]:
            extra[NODE_UID] = [node[1]]
    return UserInfo(make_username(namespace, name), uid,
                    (ALL_SERVICE_ACCOUNTS_GROUP, f"{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}"), extra)


class ServiceAccountAuthenticator:
    def __init__(self, issuers: Sequence[str], keys: KeySet, api_audiences: Sequence[str],
                 getter: ObjectGetter, legacy: LegacyValidator | None = None) -> None:
        self.issuers = frozenset(issuers)
        self.keys = keys  # read on the first token checked (see keys.py)
        self.api_audiences = list(api_audiences)
        self.getter = getter
        self.legacy = legacy

    async def authenticate(self, request: Request) -> UserInfo | None:
        token = bearer_token(request)
        if token is None:
            return None
        payload = unverified_jwt_claims(token)
        issuer = payload.get("iss") if payload else None
        if issuer in self.issuers:
            return await self.authenticate_bound(token)
        if issuer == LEGACY_ISSUER and self.legacy is not None:
            return await self.legacy.validate(token, self.verify(token, implicit=True))
        return None

    def verify(self, token: str, *, implicit: bool = False) -> dict[str, Any]:
        """The verified claims: signature, issuer and audiences (not the times)."""
        import jwt  # with the keys: on the first token checked

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("invalid bearer token") from None
        kid = header.get("kid")
        keys = self.keys.by_kid.get(kid, []) if isinstance(kid, str) and kid else self.keys.public_keys
        if not keys:
            raise AuthenticationError("invalid signature, no keys found")
        claims, errors = None, []
        for key in keys:
            claims = _decode(token, key, errors)
            if claims is not None:
                break
        if claims is None:
            raise AuthenticationError("; ".join(errors) or "invalid signature")
        issuer = claims.get("iss")
        if issuer not in self.issuers and not (implicit and issuer == LEGACY_ISSUER):
            raise AuthenticationError(f"token issuer {issuer!r} is invalid")
        audiences = claims.get("aud") or []
        audiences = [audiences] if isinstance(audiences, str) else list(audiences)
        if not audiences:  # a legacy token: valid for the API's own audiences
            audiences = self.api_audiences
        if self.api_audiences and not set(audiences) & set(self.api_audiences):
            raise AuthenticationError(f"token audiences {go_strings(audiences)} is invalid for the "
                                      f"target audiences {go_strings(self.api_audiences)}")
        return claims

    async def authenticate_bound(self, token: str) -> UserInfo:
        claims = self.verify(token)
        now = time.time()
        _check_times(claims, now)
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            raise AuthenticationError("service account token claims could not be validated due to "
                                      "unexpected validation error")
        namespace = str(private.get("namespace") or "")
        sa_ref = private.get("serviceaccount") or {}
        name, uid = str(sa_ref.get("name") or ""), str(sa_ref.get("uid") or "")
        sa = await self.getter.get("serviceaccounts", namespace, name)
        if sa is None:
            raise AuthenticationError(f'serviceaccounts "{name}" not found')
        sa_meta = sa["metadata"]
        if sa_meta.get("uid") != uid:
            raise AuthenticationError(f"service account UID ({sa_meta.get('uid')}) does not match "
                                      f"claim ({uid})")
        if _deleted_before(sa_meta, now - LEEWAY):
            raise AuthenticationError(f"service account {namespace}/{name} has been deleted")
        secret_ref, pod_ref, node_ref = (private.get(k) for k in ("secret", "pod", "node"))
        if isinstance(secret_ref, dict):
            await self._check_bound("secrets", "secret", namespace, secret_ref, now)
        pod = node = None
        if isinstance(pod_ref, dict):
            await self._check_bound("pods", "pod", namespace, pod_ref, now)
            pod = (pod_ref.get("name", ""), pod_ref.get("uid", ""))
            if isinstance(node_ref, dict):  # informational only for a pod-bound token
                node = (node_ref.get("name", ""), node_ref.get("uid", ""))
        elif isinstance(node_ref, dict):
            await self._check_bound("nodes", "node", "", node_ref, now)
            node = (node_ref.get("name", ""), node_ref.get("uid", ""))
        jti = claims.get("jti")
        return service_account_user(namespace, name, uid, pod=pod, node=node,
                                    jti=jti if isinstance(jti, str) else "")

    async def _check_bound(self, resource: str, what: str, namespace: str, ref: dict[str, Any],
                           now: float) -> None:
        obj = await self.getter.get(resource, namespace, str(ref.get("name") or ""))
        if obj is None:
            raise AuthenticationError("service account token has been invalidated")
        uid = obj["metadata"].get("uid", "")
        if not hmac.compare_digest(str(uid), str(ref.get("uid") or "")):
            raise AuthenticationError(f"{what} UID ({uid}) does not match service account {what} "
                                      f"ref claim ({ref.get('uid', '')})")
        if _deleted_before(obj["metadata"], now - LEEWAY):
            raise AuthenticationError("service account token has been invalidated")


def _decode(token: str, key: PublicKey, errors: list[str]) -> dict[str, Any] | None:
    import jwt

    try:
        return jwt.decode(token, key, algorithms=[algorithm(key)], options={
            "verify_aud": False, "verify_iss": False, "verify_exp": False, "verify_nbf": False,
            "verify_iat": False})
    except jwt.PyJWTError as error:
        errors.append(str(error))
        return None


def _check_times(claims: dict[str, Any], now: float) -> None:
    """go-jose's Claims.Validate with its default leeway, in kube's words."""
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    if isinstance(exp, (int, float)) and now - LEEWAY > exp:
        raise AuthenticationError("service account token has expired")
    if isinstance(nbf, (int, float)) and now + LEEWAY < nbf:
        raise AuthenticationError("service account token is not valid yet")
    if isinstance(iat, (int, float)) and now + LEEWAY < iat:
        raise AuthenticationError("service account token is issued in the future")


def _deleted_before(meta: dict[str, Any], threshold: float) -> bool:
    stamp = meta.get("deletionTimestamp")
    if not stamp:
        return False
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() < threshold
