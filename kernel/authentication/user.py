"""The identity of a request's user (k8s.io/apiserver/pkg/authentication/user), a leaf module:
the request, authorization, admission and audit all carry a :class:`UserInfo` without importing
the authenticators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATED = "system:authenticated"
MASTERS = "system:masters"
APISERVER_USER = "system:apiserver"


class UserInfo(msgspec.Struct, frozen=True):
    """user.Info: the identity carried to authorization and audit."""

    name: str
    uid: str = ""
    groups: Sequence[str] = ()
    extra: Mapping[str, Sequence[str]] = msgspec.field(default_factory=dict)


def user_info_json(user: UserInfo) -> dict[str, object]:
    """authentication/v1 UserInfo as it goes on the wire (TokenReview, SelfSubjectReview,
    AdmissionReview, CEL's ``request.userInfo``): every field omitempty, as Go encodes it."""
    info: dict[str, object] = {}
    if user.name:
        info["username"] = user.name
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = {key: list(values) for key, values in user.extra.items()}
    return info
