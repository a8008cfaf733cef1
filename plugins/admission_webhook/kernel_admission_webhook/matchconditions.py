"""A webhook's ``matchConditions``: CEL expressions over ``object``, ``oldObject``, ``request``
and ``authorizer``; all must be true for the webhook to be called (kube's
admission/plugin/webhook/matchconditions). Compiled once per webhook with the shared environment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kernel_cel import DYN, CompileError, Environment, EvalError

_VARIABLES = {"object": DYN, "oldObject": DYN, "request": DYN, "authorizer": DYN}


@dataclass(frozen=True)
class Condition:
    name: str
    expression: str
    program: Any  # a kernel_cel Program, or None when it did not compile
    error: str = ""


@dataclass(frozen=True)
class MatchResult:
    matches: bool
    error: str = ""  # evaluation errors under failurePolicy Fail (the request is then refused)
    failed_condition: str = ""


def compile_conditions(conditions: Sequence[Mapping[str, Any]]) -> tuple[Condition, ...]:
    """Each condition compiled; one that does not compile fails when evaluated, as kube's."""
    env = Environment(variables=_VARIABLES, library="admission")
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
