"""A checked expression, evaluated over plain JSON values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import EvalError, eval_message


class Program:
    """One compiled expression of an Environment (``env``: not imported, it imports us)."""

    def __init__(self, env: Any, expression: str, checked: Any, result_type: str) -> None:
        self.env = env
        self.expression = expression
        self.result_type = result_type  # cel-go spelling: "bool", "string", "list(int)", "dyn"
        self._checked = checked
        self.estimated_cost = 0

    def eval(self, values: Any, functions: Any = None) -> Any:
        """The result as a plain Python value. ``values``: the variables' JSON values, or an
        Activation from ``env.activation`` (converted once, reused across programs)."""
        activation = values.cel if hasattr(values, "cel") else self.env._cel_activation(values, functions)
        try:
            result = self._checked.eval(activation)
        except Exception as error:  # cel-cpp raises for some bad data instead of returning an error
            raise EvalError(eval_message(error)) from None
        return to_python(result)


def to_python(result: Any) -> Any:
    """A cel Value as a plain value (lists, dicts, str, int, float, bool, None, bytes, ...)."""
    if result.type().name() != "ERROR":
        return result.plain_value()
    try:
        message = result.value()
    except TypeError:  # a kind cel-expr-python does not convert: an optional
        text = repr(result)
        if text == "optional.none()":
            return None
        raise EvalError(f"unsupported result value {text[:200]}") from None
    raise EvalError(eval_message(message))
