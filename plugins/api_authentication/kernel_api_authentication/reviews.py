"""SelfSubjectReview and TokenReview: create-only virtual resources (nothing is stored).

As in kube (pkg/registry/authentication/{selfsubjectreview,tokenreview}), each has a REST object
with only ``create``; the kernel's generic handlers decode the body (JSON, YAML or the protobuf
kubectl sends), check fields and encode the answer (201 Created), and the authorization filter has
already required the ``create`` verb on the resource, so TokenReview needs a caller allowed to
create ``tokenreviews.authentication.k8s.io``.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from kernel.apimachinery import status
from kernel.registry.resource import ResourceSpec
from kernel.authentication import ANONYMOUS, AuthenticationError, UserInfo
from kernel.authentication.user import user_info_json
from kernel.endpoints.request import Request

from kernel.apimachinery.apitypes import GeneratedTypes

#: authentication.k8s.io/v1's generated types (``generated/v1.json``, from scripts/generate-api).
AUTHENTICATION_V1 = GeneratedTypes.beside(__file__, "v1")

GROUP = "authentication.k8s.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"

selfsubjectreview_spec = ResourceSpec(
    group=GROUP, version=VERSION, kind="SelfSubjectReview", plural="selfsubjectreviews",
    singular="selfsubjectreview", namespaced=False, verbs=("create",),
    **AUTHENTICATION_V1.spec_fields("SelfSubjectReview"),
    description=AUTHENTICATION_V1.description("SelfSubjectReview"))

tokenreview_spec = ResourceSpec(
    group=GROUP, version=VERSION, kind="TokenReview", plural="tokenreviews",
    singular="tokenreview", namespaced=False, verbs=("create",),
    **AUTHENTICATION_V1.spec_fields("TokenReview"),
    description=AUTHENTICATION_V1.description("TokenReview"))

RESOURCES = [selfsubjectreview_spec, tokenreview_spec]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class SelfSubjectReviewREST:
    """``kubectl auth whoami``: the user the request was authenticated as."""

    spec = selfsubjectreview_spec

    async def create(self, namespace: str, obj: Mapping[str, Any], user: UserInfo | None, *,
                     dry_run: bool = False, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if user is None:
            raise status.bad_request("no user present on request")
        return {"kind": "SelfSubjectReview", "apiVersion": API_VERSION,
                "metadata": {"creationTimestamp": _now()},
                "status": {"userInfo": user_info_json(user)}}


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _no_response(message: dict[str, Any]) -> None:
    raise RuntimeError("a TokenReview's inner authentication cannot answer")


def token_request(token: str) -> Request:
    """A request with nothing but ``Authorization: Bearer <token>``, as kube's TokenReview makes."""
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"",
             "headers": [(b"authorization", b"Bearer " + token.encode("utf-8"))]}
    return Request(scope, _no_body, _no_response)


class TokenReviewREST:
    """Runs the server's authenticator chain on ``spec.token``.

    Every authenticator here is audience-agnostic (kube's WrapAudienceAgnosticToken): a token is
    valid for the API's own audiences (``--api-audiences``) only, so a review asking for other
    audiences is not authenticated, and one asking for some of them gets those back in
    ``status.audiences``.
    """

    spec = tokenreview_spec

    def __init__(self, authenticate: Callable[[Request], Awaitable[UserInfo | None]],
                 api_audiences: Sequence[str]) -> None:
        self.authenticate = authenticate  # the server's chain: ServerContext.authenticate
        self.api_audiences = list(api_audiences)

    async def create(self, namespace: str, obj: Mapping[str, Any], user: UserInfo | None, *,
                     dry_run: bool = False, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        spec = obj.get("spec") or {}
        token = spec.get("token") or ""
        if not token:
            raise status.bad_request("token is required for TokenReview in authentication")
        audiences = list(spec.get("audiences") or ()) or self.api_audiences
        matched = [a for a in self.api_audiences if a in audiences]
        reviewed: UserInfo | None = None
        error = ""
        if audiences and not matched:
            error = "invalid bearer token"  # no authenticator accepts a token for these audiences
        else:
            try:
                reviewed = await self.authenticate(token_request(token))
            except AuthenticationError as failure:
                error = str(failure)
        review: dict[str, Any] = {}
        if reviewed is not None and reviewed.name != ANONYMOUS:
            review["authenticated"] = True
            review["user"] = user_info_json(reviewed)
            if matched:
                review["audiences"] = matched
        else:
            review["user"] = {}
        if error:
            review["error"] = error
        return {**obj, "kind": "TokenReview", "apiVersion": API_VERSION,
                "metadata": obj.get("metadata") or {}, "status": review}
