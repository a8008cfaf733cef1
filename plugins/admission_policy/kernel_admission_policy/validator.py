"""Evaluate one compiled policy against one request and one param (kube's validating
``validator.Validate``): match conditions, then validations with their messages, then audit
annotations, each error handled by the policy's failure policy.

Variables are lazy as in kube: one is evaluated the first time an expression that reads it
(directly or through another variable) runs, once per request and param; an expression that
reads a variable that failed fails with kube's ``composited variable "x" fails to evaluate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


import msgspec

from kernel_cel.errors import EvalError

from .compiler import VARIABLES, CompiledPolicy, Expression, Validation

ADMIT, DENY = "admit", "deny"
PUBLISH, EXCLUDE, ERROR = "publish", "exclude", "error"
MAX_MESSAGE_BYTES = 5 * 1024  # celconfig.MaxEvaluatedMessageExpressionSizeBytes
MAX_AUDIT_VALUE_BYTES = 10 * 1024  # the dispatcher's maxAuditAnnotationValueLength


class Decision(msgspec.Struct, frozen=True):
    action: str  # ADMIT or DENY
    message: str = ""
    reason: str = ""  # a StatusReason for a denial by an expression; "" for an error
    error: bool = False


class AuditResult(msgspec.Struct, frozen=True):
    key: str
    action: str  # PUBLISH, EXCLUDE or ERROR
    value: str = ""
    error: str = ""


class ValidateResult(msgspec.Struct):
    decisions: list[Decision] = msgspec.field(default_factory=list)
    audit_annotations: list[AuditResult] = msgspec.field(default_factory=list)


class Scope:
    """The values of one evaluation and the variables computed so far (kube's activation with its
    lazy ``variables`` map)."""

    def __init__(self, policy: CompiledPolicy, values: Mapping[str, Any],
                 extra: Mapping[str, Any] | None = None) -> None:
        self.policy = policy
        # only what some expression reads is handed to CEL (each value is converted for it)
        reads = policy.reads
        self.values = {name: value for name, value in values.items() if name in reads}
        if extra:
            self.values.update(extra)
        self.variables: dict[str, Any] = {}
        self.failed: dict[str, str] = {}
        self.env = policy.env
        self._activation: Any = None

    def activation(self) -> Any:
        if self._activation is None:
            self._activation = self.env.activation({**self.values, VARIABLES: self.variables})
        return self._activation

    def eval(self, expression: Expression) -> Any:
        """The expression's value, its variables first; EvalError with kube's text."""
        if not expression.variables:  # the common case: nothing to compute first
            return expression.eval(self.activation())
        for name in self.policy.needed_variables((expression,)):
            if name not in self.variables and name not in self.failed:
                self._compute(name)
        for name in sorted(expression.variables):
            for needed in sorted(self.policy.closure.get(name, ())):
                if needed in self.failed:
                    raise EvalError(f"expression '{expression.text}' resulted in error: "
                                    f"{self.failed[needed]}")
        return expression.eval(self.activation())

    def _compute(self, name: str) -> None:
        expression = dict(self.policy.variables)[name]
        if expression.program is None:
            self.failed[name] = f'composited variable "{name}" fails to compile: {expression.error}'
            return
        try:
            value = expression.program.eval(self.activation())
        except EvalError as error:
            self.failed[name] = f'composited variable "{name}" fails to evaluate: {error.message}'
            return
        self.variables[name] = value
        self._activation = None  # the next expression sees this variable


def _for_error(failure_policy: str) -> str:
    return ADMIT if failure_policy == "Ignore" else DENY


def match_conditions(policy: CompiledPolicy, scope: Scope) -> tuple[bool, str]:
    """(matches, error) as kube's matchconditions matcher: a false condition wins over errors."""
    errors: list[str] = []
    for _, expression in policy.match_conditions:
        try:
            if scope.eval(expression) is False:
                return False, ""
        except EvalError as error:
            errors.append(error.message)
    if not errors:
        return True, ""
    if policy.failure_policy == "Ignore":
        return False, ""
    return False, errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def validate(policy: CompiledPolicy, scope: Scope) -> ValidateResult:
    if policy.match_conditions:
        matches, error = match_conditions(policy, scope)
        if error:
            return ValidateResult([Decision(_for_error(policy.failure_policy), error, error=True)])
        if not matches:
            return ValidateResult()
    decisions = [_decide(policy, validation, scope) for validation in policy.validations]
    annotations = [_audit(policy, annotation.key, annotation.value_expression, scope)
                   for annotation in policy.audit_annotations]
    return ValidateResult(decisions, annotations)


def _decide(policy: CompiledPolicy, validation: Validation, scope: Scope) -> Decision:
    try:
        result = scope.eval(validation.expression)
    except EvalError as error:
        return Decision(_for_error(policy.failure_policy), error.message, error=True)
    if result is True:
        return Decision(ADMIT)
    return Decision(DENY, _message(validation, scope), validation.reason or "Invalid")


def _message(validation: Validation, scope: Scope) -> str:
    """messageExpression's string if usable, else message, else ``failed expression: ...``."""
    message = ""
    if validation.message_expression is not None:
        try:
            value = scope.eval(validation.message_expression)
        except EvalError:
            value = None  # kube logs it and falls back
        if isinstance(value, str):
            message = value.strip()
            if len(message.encode()) > MAX_MESSAGE_BYTES or "\n" in message:
                message = ""
    if not message and validation.message:
        message = validation.message.strip()
    return message or f"failed expression: {validation.expression.text.strip()}"


def _audit(policy: CompiledPolicy, key: str, expression: Expression, scope: Scope) -> AuditResult:
    try:
        value = scope.eval(expression)
    except EvalError as error:
        action = EXCLUDE if policy.failure_policy == "Ignore" else ERROR
        return AuditResult(key, action, error=error.message)
    if value is None:
        return AuditResult(key, EXCLUDE)
    if isinstance(value, str):
        value = value.strip()
        return AuditResult(key, PUBLISH, value) if value else AuditResult(key, EXCLUDE)
    return AuditResult(key, ERROR, error=(
        f"valueExpression '{expression.text}' resulted in unsupported return type: "
        f"{cel_type_name(value)}. Return type must be either string or null."))


def cel_type_name(value: Any) -> str:
    """cel-go's name of a value's type, for kube's messages."""
    names: list[tuple[type, str]] = [(bool, "bool"), (int, "int"), (float, "double"),
                                     (bytes, "bytes"), (list, "list"), (dict, "map")]
    return next((name for kind, name in names if isinstance(value, kind)), type(value).__name__)

