"""Match conditions: CEL expressions over ``request`` (the SubjectAccessReview spec, v1) that
decide whether a webhook is asked at all (k8s.io/apiserver/pkg/authorization/cel).

Compiled in the shared CEL environment (kernel_cel, library "authz"). ``request`` is declared
dyn, so a field that does not exist is an evaluation error rather than a compile error (kube
checks field names against the typed spec); an expression must be of type bool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import kernel_cel  # cel-cpp loads with the first environment (see kernel_cel)
from kernel_cel.errors import CompileError as CelCompileError, EvalError


def _env() -> kernel_cel.Environment:
    return kernel_cel.Environment(variables={"request": kernel_cel.DYN}, library="authz")


class CompileError(ValueError):
    """Expressions that do not compile: ``(index, expression, detail)`` each."""

    def __init__(self, problems: Sequence[tuple[int, str, str]]) -> None:
        super().__init__("; ".join(f"[{i}] {detail}" for i, _, detail in problems))
        self.problems = list(problems)


class MatchError(Exception):
    """A condition failed to evaluate (and none was false): the failure policy decides."""


def compile_one(expression: str) -> kernel_cel.Program:
    """The compiled program; ValueError with kube's detail (``compilation failed: ...``)."""
    return _env().compile(expression, result="bool")


class MatchConditions:
    def __init__(self, expressions: Sequence[str]) -> None:
        programs, problems = [], []
        for index, expression in enumerate(expressions):
            try:
                programs.append((expression, compile_one(expression)))
            except CelCompileError as error:
                problems.append((index, expression, str(error)))
        if problems:
            raise CompileError(problems)
        self.programs = programs

    def matches(self, request: Mapping[str, Any]) -> bool:
        """False as soon as one condition is false; MatchError if none is but one failed."""
        errors = []
        activation = _env().activation({"request": request})
        for expression, program in self.programs:
            try:
                value = program.eval(activation)
            except EvalError as error:
                errors.append(f"cel evaluation error: expression '{expression}' resulted in error: {error}")
                continue
            if value is False:
                return False
            if value is not True:
                errors.append(f"cel evaluation error: expression '{expression}' eval result type "
                              f"should be bool but got {type(value).__name__}")
        if errors:
            raise MatchError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
        return True
