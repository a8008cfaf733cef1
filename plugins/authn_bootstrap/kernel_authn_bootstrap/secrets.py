"""Bootstrap token secrets as k8s.io/cluster-bootstrap reads them: names, keys, the token format,
expiration and extra groups."""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Mapping
from typing import Any

from kernel.apimachinery.lazyre import lazy_compile

NAMESPACE = "kube-system"
SECRET_PREFIX = "bootstrap-token-"
SECRET_TYPE = "bootstrap.kubernetes.io/token"
TOKEN_ID_KEY = "token-id"
TOKEN_SECRET_KEY = "token-secret"
EXPIRATION_KEY = "expiration"
EXTRA_GROUPS_KEY = "auth-extra-groups"
USAGE_AUTHENTICATION_KEY = "usage-bootstrap-authentication"
USER_PREFIX = "system:bootstrap:"
DEFAULT_GROUP = "system:bootstrappers"

TOKEN = lazy_compile(r"\A([a-z0-9]{6})\.([a-z0-9]{16})\Z")
GROUP = lazy_compile(r"\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\Z")


def parse_token(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of ``<id>.<secret>``, or None for a token of another form."""
    match = TOKEN.match(token)
    return (match[1], match[2]) if match else None


def data(secret: Mapping[str, Any], key: str) -> str:
    """A data value, decoded ("" when missing or not base64, as an absent key reads in Go)."""
    value = (secret.get("data") or {}).get(key)
    if not isinstance(value, str):
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def expired(secret: Mapping[str, Any], now: datetime.datetime) -> bool:
    """Past its ``expiration`` (RFC 3339); an unparseable one counts as expired, as in kube."""
    expiration = data(secret, EXPIRATION_KEY)
    if not expiration:
        return False
    try:
        when = datetime.datetime.fromisoformat(expiration)
    except ValueError:
        return True
    if when.tzinfo is None or "T" not in expiration.upper():
        return True  # RFC 3339 needs the time and its offset
    return when <= now


class GroupError(ValueError):
    pass


def groups(secret: Mapping[str, Any]) -> list[str]:
    """system:bootstrappers and the ``auth-extra-groups``, sorted and unique; GroupError for an
    extra group outside ``system:bootstrappers:``."""
    found = {DEFAULT_GROUP}
    extra = data(secret, EXTRA_GROUPS_KEY)
    for group in extra.split(",") if extra else ():
        if not GROUP.match(group):
            raise GroupError(f"bootstrap group {group!r} is invalid (must match {GROUP.pattern})")
        found.add(group)
    return sorted(found)
