"""A webhook's ``matchConditions``: CEL expressions over ``object``, ``oldObject``, ``request``
and ``authorizer``; all must be true for the webhook to be called (kube's
admission/plugin/webhook/matchconditions). Compiled once per webhook with the shared environment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import msgspec
import trio

from kernel.authentication.user import UserInfo
from kernel.authorization import Attributes as AuthorizationAttributes
from kernel.authorization import Decision
import kernel_cel  # cel-cpp loads with the first environment (see kernel_cel)
from kernel_cel.errors import CompileError, EvalError

# the admission library adds ``authorizer`` and ``authorizer.requestResource``, as kube's does
_VARIABLES = ("object", "oldObject", "request")
#: ``authorize(attributes)``: the server's authorizer chain (context.authorize), async
Authorize = Callable[[AuthorizationAttributes], Awaitable[tuple[Decision, str]]]


class Condition(msgspec.Struct, frozen=True):
    name: str
    expression: str
    program: Any  # a kernel_cel Program, or None when it did not compile
    error: str = ""


class MatchResult(msgspec.Struct, frozen=True):
    matches: bool
    error: str = ""  # evaluation errors under failurePolicy Fail (the request is then refused)
    failed_condition: str = ""


def compile_conditions(conditions: Sequence[Mapping[str, Any]]) -> tuple[Condition, ...]:
    """Each condition compiled; one that does not compile fails when evaluated, as kube's."""
    env = kernel_cel.Environment(variables=dict.fromkeys(_VARIABLES, kernel_cel.DYN),
                                 library="admission")
    compiled = []
    for condition in conditions:
        expression = condition.get("expression") or ""
        try:
            compiled.append(Condition(condition.get("name") or "", expression,
                                      env.compile(expression, result="bool")))
        except CompileError as error:
            compiled.append(Condition(condition.get("name") or "", expression, None,
                                      f"compilation error: {error}"))
    return tuple(compiled)


def _evaluate(condition: Condition, values: Mapping[str, Any]) -> tuple[Any, str]:
    if condition.program is None:
        return None, condition.error
    try:
        return condition.program.eval(values), ""
    except EvalError as error:
        return None, f"expression '{condition.expression}' resulted in error: {error}"


def match(conditions: Sequence[Condition], values: Mapping[str, Any], fail: bool) -> MatchResult:
    """kube's matcher: a false condition excludes the webhook (whatever errors others had);
    otherwise errors refuse the request under Fail and skip the webhook under Ignore."""
    errors = []
    for condition in conditions:
        result, error = _evaluate(condition, values)
        if error:
            errors.append(error)
        elif result is False:
            return MatchResult(False, failed_condition=condition.name)
    if errors:
        if not fail:
            return MatchResult(False)
        return MatchResult(False, errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]")
    return MatchResult(True)


def uses_authorizer(conditions: Sequence[Condition]) -> bool:
    return any("authorizer" in condition.expression for condition in conditions)


def _user(user: UserInfo, service_account: str | None) -> UserInfo:
    """The request's user, or the service account ``authorizer.serviceAccount(ns, name)`` named."""
    if not service_account:
        return user
    namespace = service_account.split(":")[2]
    return UserInfo(service_account, groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                                             "system:authenticated"))


def cel_authorizer(user: UserInfo, authorize: Authorize) -> kernel_cel.Authorizer:
    """The ``authorizer`` value for one request. CEL calls it synchronously, so conditions that
    use it are evaluated in a worker thread (:func:`match_in_thread`), which runs the async
    authorizer chain back in trio."""
    def check(attributes: Mapping[str, Any]) -> tuple[str, str]:
        asked = AuthorizationAttributes(
            _user(user, attributes.get("user")), attributes["verb"], bool(attributes.get("resourceRequest")),
            path=attributes.get("path") or "", namespace=attributes.get("namespace") or "",
            api_group=attributes.get("apiGroup") or "", api_version=attributes.get("apiVersion") or "",
            resource=attributes.get("resource") or "", subresource=attributes.get("subresource") or "",
            name=attributes.get("name") or "", field_selector=attributes.get("fieldSelector") or "",
            label_selector=attributes.get("labelSelector") or "")
        decision, reason = trio.from_thread.run(authorize, asked)
        return {Decision.ALLOW: "allow", Decision.DENY: "deny"}.get(decision, "no-opinion"), reason
    return kernel_cel.Authorizer(check)


async def match_in_thread(conditions: Sequence[Condition], values: Mapping[str, Any], fail: bool) -> MatchResult:
    return await trio.to_thread.run_sync(match, conditions, values, fail)
