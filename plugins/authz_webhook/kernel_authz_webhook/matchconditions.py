"""Match conditions: CEL expressions over ``request`` (the SubjectAccessReview spec, v1) that
decide whether a webhook is asked at all (k8s.io/apiserver/pkg/authorization/cel).

Compiled once with cel-expr-python (the CEL C++ runtime). ``request`` is declared as a map, so a
field that does not exist is an evaluation error rather than a compile error (kube checks field
names against the typed spec); an expression must be of type bool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cel_expr_python import cel

_ENV: Any = None


def _env() -> Any:
    global _ENV
    if _ENV is None:
        _ENV = cel.NewEnv(variables={"request": cel.Type.Map(cel.Type.STRING, cel.Type.DYN)})
    return _ENV


class CompileError(ValueError):
    """Expressions that do not compile: ``(index, expression, detail)`` each."""

    def __init__(self, problems: Sequence[tuple[int, str, str]]) -> None:
        super().__init__("; ".join(f"[{i}] {detail}" for i, _, detail in problems))
        self.problems = list(problems)


class MatchError(Exception):
    """A condition failed to evaluate (and none was false): the failure policy decides."""


def compile_one(expression: str) -> Any:
    """The compiled program; ValueError with kube's detail (``compilation failed: ...``)."""
    try:
        program = _env().compile(expression)
    except RuntimeError as error:
        raise ValueError(f"compilation failed: {error}") from None
    got = program.return_type().name().lower()
    if got != "bool":
        raise ValueError(f"must evaluate to bool but got {got}")
    return program


class MatchConditions:
    def __init__(self, expressions: Sequence[str]) -> None:
        programs, problems = [], []
        for index, expression in enumerate(expressions):
            try:
                programs.append((expression, compile_one(expression)))
            except ValueError as error:
                problems.append((index, expression, str(error)))
        if problems:
            raise CompileError(problems)
        self.programs = programs

    def matches(self, request: Mapping[str, Any]) -> bool:
        """False as soon as one condition is false; MatchError if none is but one failed."""
        errors = []
        for expression, program in self.programs:
            try:
                result = program.eval(data={"request": request})
                kind, value = result.type().name(), result.value()
            except Exception as error:  # the runtime raises for bad data
                kind, value = "ERROR", error
            if kind == "BOOL":
                if not value:
                    return False
                continue
            if kind == "ERROR":
                errors.append(f"cel evaluation error: expression '{expression}' resulted in error: {value}")
            else:
                errors.append(f"cel evaluation error: expression '{expression}' eval result type "
                              f"should be bool but got {kind.lower()}")
        if errors:
            raise MatchError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
        return True
