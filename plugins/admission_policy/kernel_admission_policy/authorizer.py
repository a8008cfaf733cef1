"""The ``authorizer`` and ``authorizer.requestResource`` CEL values of one request (kube's
admission/plugin/cel activation with library.NewAuthorizerVal): checks go to the server's
authorizer chain as the request's user, or as a service account named with
``authorizer.serviceAccount(ns, name)``.

CEL evaluates synchronously while the chain is async: a policy that uses the authorizer is
evaluated in a worker thread (:func:`trio.to_thread.run_sync`), and each check is handed back
to the event loop with :func:`trio.from_thread.run`. Decisions are cached per request, as kube's
caching authorizer does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import trio
import kernel_cel  # cel-cpp loads with the first policy evaluated (see kernel_cel)

from kernel.admission import Attributes
from kernel.authentication.user import UserInfo
from kernel.authorization import Attributes as AuthorizationAttributes
from kernel.authorization import Decision

from .compiler import AUTHORIZER

REQUEST_RESOURCE = "authorizer.requestResource"
_DECISIONS = {Decision.ALLOW: "allow", Decision.DENY: "deny", Decision.NO_OPINION: "no-opinion"}
Authorize = Callable[[AuthorizationAttributes], Awaitable[tuple[Decision, str]]]


def _service_account_user(name: str) -> UserInfo:
    """kube's serviceaccount.UserInfo for ``system:serviceaccount:<ns>:<name>``."""
    namespace = name.split(":")[2]
    return UserInfo(name, groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                                  "system:authenticated"))


class RequestAuthorizer:
    """The authorizer values for one admission request."""

    def __init__(self, authorize: Authorize, attributes: Attributes) -> None:
        self._authorize = authorize
        self._user = attributes.user
        self._cache: dict[tuple[tuple[str, str], ...], tuple[str, str]] = {}
        self._authorizer = kernel_cel.Authorizer(self._check)
        resource = attributes.resource
        # The Authorizer itself, not its value: CEL finds it through a weak handle, so whoever
        # holds these values (the request's Dispatch) must keep it alive while evaluating.
        self.values: Mapping[str, Any] = {
            AUTHORIZER: self._authorizer,
            REQUEST_RESOURCE: self._authorizer.resource_check(
                resource.group, resource.resource, attributes.subresource, attributes.namespace,
                attributes.name)}

    def _check(self, request: Mapping[str, Any]) -> tuple[str, str]:
        user = _service_account_user(request["user"]) if request.get("user") else self._user
        if request.get("resourceRequest"):
            attributes = AuthorizationAttributes(
                user, request["verb"], True, namespace=request.get("namespace") or "",
                api_group=request.get("apiGroup") or "", api_version=request.get("apiVersion") or "*",
                resource=request.get("resource") or "", subresource=request.get("subresource") or "",
                name=request.get("name") or "", field_selector=request.get("fieldSelector") or "",
                label_selector=request.get("labelSelector") or "")
        else:
            attributes = AuthorizationAttributes(user, request["verb"], False, path=request["path"])
        key = tuple(sorted((name, str(value)) for name, value in request.items()))
        if key not in self._cache:
            decision, reason = trio.from_thread.run(self._authorize, attributes)
            self._cache[key] = (_DECISIONS[decision], reason)
        return self._cache[key]
