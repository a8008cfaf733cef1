"""The TokenReview on the wire (authentication.k8s.io v1 or v1beta1, the same shape): what is sent
to the webhook, and the status read back from its answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kernel.authentication import UserInfo

GROUP = "authentication.k8s.io"
VERSIONS = ("v1", "v1beta1")


class ReviewError(ValueError):
    """The webhook's answer is not a TokenReview this server can read."""


@dataclass(frozen=True)
class ReviewStatus:
    authenticated: bool
    user: UserInfo | None = None
    audiences: tuple[str, ...] = ()
    error: str = ""


def request(token: str, audiences: Sequence[str], version: str) -> dict[str, Any]:
    """The TokenReview kube posts: ``spec.audiences`` only when the request has audiences."""
    spec: dict[str, Any] = {"token": token}
    if audiences:
        spec["audiences"] = list(audiences)
    return {"apiVersion": f"{GROUP}/{version}", "kind": "TokenReview",
            "metadata": {"creationTimestamp": None}, "spec": spec, "status": {"user": {}}}


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReviewError(f"{where} is not a list of strings")
    return tuple(value)


def _string(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ReviewError(f"{where} is not a string")
    return value


def _user(value: Any) -> UserInfo:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ReviewError("status.user is not an object")
    extra = value.get("extra") or {}
    if not isinstance(extra, Mapping):
        raise ReviewError("status.user.extra is not an object")
    return UserInfo(_string(value.get("username"), "status.user.username"),
                    _string(value.get("uid"), "status.user.uid"),
                    _strings(value.get("groups"), "status.user.groups"),
                    {str(key): list(_strings(values, f"status.user.extra[{key}]"))
                     for key, values in extra.items()})


def status_of(answer: Any) -> ReviewStatus:
    """The status of the webhook's answer, checked for shape."""
    if not isinstance(answer, Mapping) or answer.get("kind", "TokenReview") != "TokenReview":
        raise ReviewError("the webhook's response is not a TokenReview")
    status = answer.get("status") or {}
    if not isinstance(status, Mapping):
        raise ReviewError("status is not an object")
    authenticated = status.get("authenticated", False)
    if not isinstance(authenticated, bool):
        raise ReviewError("status.authenticated is not a boolean")
    return ReviewStatus(authenticated, _user(status.get("user")) if authenticated else None,
                        _strings(status.get("audiences"), "status.audiences"),
                        _string(status.get("error"), "status.error"))
