"""A checked expression, evaluated over plain JSON values, with kube's per-call cost limit.

cel-cpp has no cost tracking, so the runtime limit is an upper bound computed before evaluating:
the cost estimator re-run with the actual sizes of the values at the paths it asks about
(``self.spec.items``, every ``self.spec.items.@items.name``), rounded up to a power of two, and
sizes nothing bounds (results of functions the estimator has no size for) bounded by the
largest of those or of the literals — a bound in practice, not a proof. It runs only when the
static estimate is over the limit; the estimate is cached per rounded sizes."""

from __future__ import annotations

from typing import Any

from . import limits
from .ast import Checked
from .cost import estimate, largest_literal
from .errors import EvalError, eval_message


class Program:
    """One compiled expression of an Environment (``env``: not imported, it imports us)."""

    def __init__(self, env: Any, expression: str, runnable: Any, result_type: str,
                 tree: Checked, estimated_cost: int) -> None:
        self.env = env
        self.expression = expression
        self.result_type = result_type  # cel-go spelling: "bool", "string", "list(int)", "dyn"
        self.tree = tree
        self.estimated_cost = estimated_cost  # kube's static estimate (the max), saturating at 2^64-1
        self._runnable = runnable
        self._runtime_costs: dict[tuple[tuple[str, int], ...], int] = {}
        self._literal = largest_literal(tree.root)
        self._paths = _queried_paths(env, tree)

    def eval(self, values: Any, cost_limit: int | None = limits.PER_CALL_LIMIT) -> Any:
        """The result as a plain Python value. ``values``: the variables' JSON values, or an
        Activation from ``env.activation`` (converted once, reused across programs).
        EvalError ``operation cancelled: actual cost limit exceeded`` when the cost bound for
        these values is over ``cost_limit`` (None: no limit)."""
        activation = values.in_this_thread() if hasattr(values, "cel") else self.env.activation(values)
        if cost_limit is not None and self.estimated_cost > cost_limit \
                and self.runtime_cost(activation) > cost_limit:
            raise EvalError(limits.COST_EXCEEDED)
        try:
            result = self._runnable.eval(activation.cel)
        except Exception as error:  # cel-cpp raises for some bad data instead of returning an error
            raise EvalError(eval_message(error)) from None
        return to_python(result)

    def runtime_cost(self, activation: Any) -> int:
        """An upper bound of this program's cost over these values (kube's actual cost is at
        most this); what a consumer adds up for a budget such as RUNTIME_CEL_COST_BUDGET."""
        sizes = {}
        for path in self._paths:
            if path[0] in activation.values and path[0] in self.env.variables:
                actual = limits.actual_size(activation.values[path[0]], path[1:])
                if actual is not None:
                    sizes[path] = _bucket(actual)
        key = tuple(sorted(sizes.items()))
        cost = self._runtime_costs.get(key)
        if cost is None:
            def size_of(path: list[str]) -> tuple[int, int] | None:
                static, actual = self.env.static_size(path), sizes.get(tuple(path))
                if actual is None:
                    return static
                return (0, min(static[1], actual)) if static is not None else (0, actual)
            # a size nothing bounds (a function's result) is at most the largest input
            unknown = (0, max([self._literal, *sizes.values()]))
            cost = estimate(self.tree, size_of, unknown)[1]
            if len(self._runtime_costs) < 64:
                self._runtime_costs[key] = cost
        return cost


def _queried_paths(env: Any, tree: Checked) -> list[tuple[str, ...]]:
    """The value paths whose sizes the estimator asks for (the same walk, so the same paths)."""
    asked: set[tuple[str, ...]] = set()

    def record(path: list[str]) -> tuple[int, int] | None:
        asked.add(tuple(path))
        return env.static_size(path)
    estimate(tree, record)
    return sorted(asked)


def _bucket(size: int) -> int:
    return 1 << max(size - 1, 0).bit_length() if size > 0 else 0


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
