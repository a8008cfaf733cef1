"""Compile a ValidatingAdmissionPolicy's CEL once per generation (kube's validating
``compilePolicy`` and admission/plugin/cel's composited compiler).

Every expression is compiled against one shared environment whose variables are dyn, as kube's
runtime environment is: field names are checked by the status controller's type checking
(:mod:`.typechecking`), not here. An expression that does not compile is kept with kube's error
text and reported when it is evaluated, under the policy's failure policy.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any


import msgspec

from kernel.apimachinery.lazyre import lazy_compile
import kernel_cel  # cel-cpp loads with the first policy compiled (see kernel_cel)
from kernel_cel.errors import CompileError, EvalError

#: The variables every admission expression sees (kube's admission/plugin/cel names).
OBJECT, OLD_OBJECT, REQUEST, PARAMS, NAMESPACE, VARIABLES = (
    "object", "oldObject", "request", "params", "namespaceObject", "variables")
AUTHORIZER = "authorizer"
BASE_VARIABLES = (OBJECT, OLD_OBJECT, REQUEST, PARAMS, NAMESPACE, VARIABLES)
BASE_VARIABLES_SET = frozenset(BASE_VARIABLES)
_VARIABLE_REFERENCE = lazy_compile(r"\bvariables\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_AUTHORIZER_REFERENCE = lazy_compile(r"\bauthorizer\b")
_NAME = lazy_compile(r"[A-Za-z_][A-Za-z0-9_]*")


def environment() -> kernel_cel.Environment:
    """An admission environment (kernel_cel adds ``authorizer`` and
    ``authorizer.requestResource`` to every admission environment, as kube does)."""
    return kernel_cel.Environment(variables=dict.fromkeys(BASE_VARIABLES, kernel_cel.DYN),
                                  library="admission")


@functools.cache
def shared_environment() -> kernel_cel.Environment:
    """The one every policy compiles in, built by the first compile (about 20 ms: not at startup)."""
    return environment()


class Expression(msgspec.Struct, frozen=True):
    """One compiled expression, or the reason it did not compile."""

    text: str
    program: kernel_cel.Program | None
    error: str = ""
    variables: frozenset[str] = frozenset()  # the ``variables.<name>`` it reads
    uses_authorizer: bool = False
    names: frozenset[str] = frozenset()  # every identifier in it (a superset of what it reads)

    def eval(self, activation: Any) -> Any:
        """The value; EvalError with kube's text (``expression '...' resulted in error: ...``)."""
        if self.program is None:
            raise EvalError(f"compilation error: {self.error}")
        try:
            return self.program.eval(activation)
        except EvalError as error:
            raise EvalError(f"expression '{self.text}' resulted in error: {error.message}") from None


def compile_expression(text: str, result: str | None) -> Expression:
    referenced = frozenset(_VARIABLE_REFERENCE.findall(text))
    uses_authorizer = bool(_AUTHORIZER_REFERENCE.search(text))
    names = frozenset(_NAME.findall(text))
    try:
        program = shared_environment().compile(text, result=result)
    except CompileError as error:
        return Expression(text, None, error.message, referenced, uses_authorizer, names)
    return Expression(text, program, "", referenced, uses_authorizer, names)


class Validation(msgspec.Struct, frozen=True):
    expression: Expression
    message: str
    message_expression: Expression | None
    reason: str


class AuditAnnotation(msgspec.Struct, frozen=True):
    key: str
    value_expression: Expression


class CompiledPolicy(msgspec.Struct, frozen=True):
    """Everything a policy evaluates, compiled: what :mod:`.validator` runs per request."""

    name: str
    failure_policy: str
    variables: tuple[tuple[str, Expression], ...]
    match_conditions: tuple[tuple[str, Expression], ...]
    validations: tuple[Validation, ...]
    audit_annotations: tuple[AuditAnnotation, ...]
    uses_authorizer: bool = False
    #: variable name -> the variables it needs, transitively (its own name included)
    closure: Mapping[str, frozenset[str]] = msgspec.field(default_factory=dict)
    #: the top-level variables some expression may read: the others are never converted for CEL
    reads: frozenset[str] = BASE_VARIABLES_SET

    @property
    def env(self) -> kernel_cel.Environment:
        return shared_environment()

    def needed_variables(self, expressions: Sequence[Expression]) -> list[str]:
        """The variables ``expressions`` read, with what those read, in declaration order."""
        wanted: set[str] = set()
        for expression in expressions:
            for name in expression.variables:
                wanted |= self.closure.get(name, {name})
        return [name for name, _ in self.variables if name in wanted]


def compile_policy(policy: Mapping[str, Any]) -> CompiledPolicy:
    spec = policy.get("spec") or {}
    variables = tuple((v.get("name", ""), compile_expression(v.get("expression", ""), None))
                      for v in spec.get("variables") or ())
    conditions = tuple((c.get("name", ""), compile_expression(c.get("expression", ""), "bool"))
                       for c in spec.get("matchConditions") or ())
    validations = tuple(_validation(v) for v in spec.get("validations") or ())
    annotations = tuple(AuditAnnotation(a.get("key", ""),
                                        compile_expression(a.get("valueExpression", ""), None))
                        for a in spec.get("auditAnnotations") or ())
    expressions = [e for _, e in variables] + [e for _, e in conditions] + [
        e for v in validations for e in (v.expression, v.message_expression) if e is not None] + [
        a.value_expression for a in annotations]
    return CompiledPolicy(
        name=(policy.get("metadata") or {}).get("name", ""),
        failure_policy=spec.get("failurePolicy") or "Fail",
        variables=variables, match_conditions=conditions, validations=validations,
        audit_annotations=annotations,
        uses_authorizer=any(e.uses_authorizer for e in expressions),
        closure=_closure(variables),
        reads=frozenset().union(*(e.names & BASE_VARIABLES_SET for e in expressions)))


def _validation(validation: Mapping[str, Any]) -> Validation:
    message_expression = validation.get("messageExpression")
    return Validation(
        compile_expression(validation.get("expression", ""), "bool"),
        validation.get("message") or "",
        compile_expression(message_expression, "string") if message_expression else None,
        validation.get("reason") or "")


def _closure(variables: Sequence[tuple[str, Expression]]) -> dict[str, frozenset[str]]:
    """Each variable with every variable it reads, directly or through others (a variable only
    sees those declared before it, as kube compiles them in order)."""
    closure: dict[str, frozenset[str]] = {}
    for name, expression in variables:
        needed = {name}
        for used in expression.variables:
            needed |= closure.get(used, frozenset())
        closure[name] = frozenset(needed)
    return closure
