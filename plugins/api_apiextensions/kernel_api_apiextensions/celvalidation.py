"""x-kubernetes-validations evaluated against a custom resource (apiextensions-apiserver
pkg/apiserver/schema/cel/validation.go): each node's rules see ``self`` (and, on update, the
correlated old value as ``oldSelf``), failures become kube's field errors.

Old values correlate through object properties, map values and the items of
``x-kubernetes-list-type: map`` lists (by their keys); transition rules (those using
``oldSelf``) run only where an old value correlates, unless ``optionalOldSelf``. Ratcheting
(kube 1.30+): on update, a failing rule without ``oldSelf`` on a value that did not change is
not an error but a warning on the response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from kernel.apimachinery.validation import OMIT_VALUE, FieldError, go_quote
from kernel.endpoints.request import recorded
from kernel_cel.errors import EvalError

from kernel_api_apiextensions.celcompilation import (_OLD_PRESENT, _OLD_VALUE,
                                                     RUNTIME_COST_BUDGET, CompiledRule, RuleNode)

MISSING: Any = object()
MAX_MESSAGE_BYTES = 5 * 1024  # celconfig.MaxEvaluatedMessageExpressionSizeBytes
_COST_EXCEEDED = "operation cancelled: actual cost limit exceeded"
_CHEAP = 1000  # estimated costs charged as they are (see _cost)


class _State(msgspec.Struct):
    budget: int
    errors: list[FieldError]
    stopped: bool = False


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shown(path: str) -> str:
    """A nil field.Path prints as ``<nil>`` (errors of rules at the resource root)."""
    return path or "<nil>"


def validate(root: RuleNode | None, obj: Any, old: Any = MISSING) -> list[FieldError]:
    """Every rule failure of ``obj`` (the whole custom resource); ``old``: the stored object on
    update."""
    if root is None:
        return []
    state = _State(RUNTIME_COST_BUDGET, [])
    _validate(root, obj, old, "", state)
    return state.errors


def _validate(node: RuleNode, obj: Any, old: Any, path: str, state: _State) -> None:
    if obj is None or state.stopped:
        return
    if old is None:
        old = MISSING
    if node.rules:
        _expressions(node, obj, old, path, state)
    if isinstance(obj, dict):
        old_map = old if isinstance(old, dict) else {}
        if node.additional is not None:
            for key, value in obj.items():
                _validate(node.additional, value, old_map.get(key, MISSING), f"{path}[{key}]", state)
        for key, value in obj.items():
            sub = node.properties.get(key)
            if sub is not None:
                _validate(sub, value, old_map.get(key, MISSING), _child(path, key), state)
    elif isinstance(obj, list) and node.items is not None:
        olds = _correlated_items(node, old)
        for i, item in enumerate(obj):
            _validate(node.items, item, olds(item), f"{path}[{i}]", state)


def _correlated_items(node: RuleNode, old: Any) -> Any:
    """makeMapList: the old item with the same map keys (only map lists correlate)."""
    if not node.map_keys or not isinstance(old, list):
        return lambda item: MISSING
    keys = node.map_keys
    index = {tuple(i.get(k) for k in keys): i for i in old if isinstance(i, dict)}
    return lambda item: index.get(tuple(item.get(k) for k in keys), MISSING) \
        if isinstance(item, dict) else MISSING


def _expressions(node: RuleNode, obj: Any, old: Any, path: str, state: _State) -> None:
    has_old = old is not MISSING
    values = {"self": obj, "oldSelf": old} if has_old else {"self": obj}
    activation = node.env.activation(values) if node.env is not None else values
    optional_activation = None
    unchanged = has_old and old == obj  # ratcheting: nothing to correct here
    if state.budget <= 0:
        return _out_of_budget(node, path, state)
    for compiled in node.rules:
        if compiled.uses_old_self and not has_old and not compiled.optional_old_self:
            continue  # transition rules need a correlated old value
        use = activation
        if compiled.optional_old_self and compiled.uses_old_self:
            if optional_activation is None:
                optional_activation = compiled.program.env.activation(
                    {"self": obj, _OLD_VALUE: old if has_old else None, _OLD_PRESENT: has_old})
            use = optional_activation
        try:
            result = compiled.program.eval(use)
        except EvalError as error:
            _eval_failed(node, compiled, error.message, path, state)
            if state.stopped:
                return
            continue
        finally:
            state.budget -= _cost(compiled.program, use)
        if state.budget < 0:
            return _out_of_budget(node, path, state)
        if result is True:
            continue
        error = _failure(node, compiled, obj, activation, path, state)
        if state.stopped:
            if error is not None:
                state.errors.append(error)
            return
        if error is None:
            continue
        if unchanged and not compiled.uses_old_self:
            recorded.add_warning(str(error))  # ratcheted: kube warns instead
        else:
            state.errors.append(error)


def _cost(program: Any, activation: Any) -> int:
    """What an evaluation takes from the object's budget. cel-cpp reports no actual cost: a
    small static estimate is used as it is (an upper bound); a large one is recomputed from the
    sizes of the values at hand (kernel_cel's runtime bound), so a rule over an unbounded list
    is charged for the list the object has."""
    estimated = program.estimated_cost
    if estimated <= _CHEAP or not hasattr(activation, "values"):
        return estimated
    return min(estimated, program.runtime_cost(activation))


def _out_of_budget(node: RuleNode, path: str, state: _State) -> None:
    state.errors.append(FieldError.invalid(_shown(path), node.type, (
        "validation failed due to running out of cost budget, no further validation rules will "
        "be run")))
    state.stopped = True


def _eval_failed(node: RuleNode, compiled: CompiledRule, message: str, path: str,
                 state: _State) -> None:
    where, kind, text = _shown(path), node.type, compiled.text
    if message.startswith("no such overload"):
        detail = (f"'{message}': call arguments did not match a supported operator, function or "
                  f"macro signature for rule: {text}")
    elif message.startswith(_COST_EXCEEDED):
        detail = f"'{message}': no further validation rules will be run due to call cost exceeds limit for rule: {text}"
        state.stopped = True
    else:
        detail = f"{message} evaluating rule: {text}"
    state.errors.append(FieldError.invalid(where, kind, detail))


def _failure(node: RuleNode, compiled: CompiledRule, obj: Any, activation: Any, path: str,
             state: _State) -> FieldError | None:
    """The error of a rule that evaluated to false: its message (messageExpression when that
    yields a usable string), reason and fieldPath."""
    where = _child(path, compiled.field_path) if compiled.field_path else path
    detail = None
    if compiled.message is not None:
        try:
            text = compiled.message.eval(activation)
        except EvalError as error:
            if error.message.startswith(_COST_EXCEEDED):
                state.stopped = True
                expression = compiled.rule.get("messageExpression") or ""
                return FieldError.invalid(_shown(where), node.type, (
                    "no further validation rules will be run due to call cost exceeds limit "
                    f"for messageExpression: {go_quote(expression)}"))
            text = None  # kube logs it and falls back to the message
        if isinstance(text, str):
            text = text.strip()
            if text and "\n" not in text and len(text.encode()) <= MAX_MESSAGE_BYTES:
                detail = text
    if detail is None:
        detail = compiled.default_message
    value = OMIT_VALUE if node.type in ("object", "array") else obj
    return _for_reason(_shown(where), value, detail, compiled.rule.get("reason"))


def _for_reason(where: str, value: Any, detail: str, reason: str | None) -> FieldError:
    if reason == "FieldValueForbidden":
        return FieldError.forbidden(where, detail)
    if reason == "FieldValueRequired":
        return FieldError.required(where, detail)
    if reason == "FieldValueDuplicate":
        return FieldError.duplicate(where, value)
    return FieldError.invalid(where, value, detail)


def has_rules(schema: Mapping[str, Any] | None) -> bool:
    if not isinstance(schema, Mapping):
        return False
    if schema.get("x-kubernetes-validations"):
        return True
    children = [*(schema.get("properties") or {}).values(), schema.get("items"),
                schema.get("additionalProperties")]
    return any(has_rules(c) for c in children)
