"""CEL compile checks of the expressions admission configurations hold, as kube's registry
validation makes them (k8s.io/apiserver/pkg/admission/plugin/cel compile.go).

``object``, ``oldObject`` and ``params`` are dyn here, as in kube: checking them against the
matched kinds' schemas is the policy status controller's job (warnings, not refusals).
"""

from __future__ import annotations

from functools import cache

from kernel.apimachinery.validation import FieldError
import kernel_cel  # cel-cpp loads with the first environment (see kernel_cel)
from kernel_cel.errors import CompileError

from kernel_api_admissionregistration.rules import ExpressionCheck


@cache
def _environment(params: bool, authorizer: bool, variables: bool) -> kernel_cel.Environment:
    names = ["object", "oldObject", "request", "namespaceObject"]
    names += [name for name, declared in (("params", params), ("authorizer", authorizer),
                                          ("variables", variables)) if declared]
    return kernel_cel.Environment(variables=dict.fromkeys(names, kernel_cel.DYN), library="admission")


def _check(expression: str, path: str, result: str | None, params: bool, authorizer: bool,
           variables: bool) -> list[FieldError]:
    try:
        _environment(params, authorizer, variables).compile(expression, result=result)
    except CompileError as error:
        return [FieldError.invalid(path, expression, str(error))]
    return []


def match_condition_check(expression: str, path: str) -> list[FieldError]:
    """A webhook's matchConditions: no params, no variables."""
    return _check(expression, path, "bool", params=False, authorizer=True, variables=False)


def policy_match_condition_check(params: bool) -> ExpressionCheck:
    def check(expression: str, path: str) -> list[FieldError]:
        return _check(expression, path, "bool", params=params, authorizer=True, variables=False)
    return check


def validation_check(expression: str, path: str, params: bool) -> list[FieldError]:
    return _check(expression, path, "bool", params=params, authorizer=True, variables=True)


def message_check(expression: str, path: str, params: bool) -> list[FieldError]:
    return _check(expression, path, "string", params=params, authorizer=False, variables=True)


def variable_check(expression: str, path: str, params: bool) -> list[FieldError]:
    return _check(expression, path, None, params=params, authorizer=True, variables=True)


def audit_annotation_check(expression: str, path: str, params: bool) -> list[FieldError]:
    # string or null: checked when evaluated (kube's ReturnTypes: string, null)
    return _check(expression, path, None, params=params, authorizer=True, variables=True)
