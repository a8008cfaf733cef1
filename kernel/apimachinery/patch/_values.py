"""Helpers over JSON-compatible Python values: copying, comparing, describing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from ..depth import MAX_DEPTH
from .errors import BAD_REQUEST, PatchError

# Deepest patch accepted, and deepest document a JSON patch may build (its pointers and values
# can nest without bound): the server's one nesting limit, see kernel.apimachinery.depth. The
# appliers recurse once per level of the *patch* (documents are copied iteratively).
MAX_PATCH_DEPTH = MAX_DOCUMENT_DEPTH = MAX_DEPTH


def copy_json(value: Any, max_depth: int | None = None) -> Any:
    """Deep-copy a JSON value without recursion; past ``max_depth`` levels raise a 400."""
    if not isinstance(value, (dict, list)):
        return value
    root: dict[str, Any] | list[Any] = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any, int]] = [(value, root, 1)]
    while stack:
        src, dst, depth = stack.pop()
        if max_depth is not None and depth > max_depth:
            raise too_deep()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for key, item in items:
            if isinstance(item, (dict, list)):
                child: Any = {} if isinstance(item, dict) else []
                stack.append((item, child, depth + 1))
                item = child
            if isinstance(dst, dict):
                dst[key] = item
            else:
                dst.append(item)
    return root


def copy_patch(value: Any) -> Any:
    return copy_json(value, MAX_PATCH_DEPTH)


_F = TypeVar("_F", bound=Callable[..., Any])


def guard_recursion(fn: _F) -> _F:
    """Turn a RecursionError (a caller already deep in its stack) into the too-deep PatchError."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RecursionError:
            raise too_deep() from None
    return wrapper  # type: ignore[return-value]


def too_deep() -> PatchError:
    return PatchError(f"patch nesting exceeds the maximum depth of {MAX_PATCH_DEPTH}", BAD_REQUEST)


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers compare by value, but booleans are not numbers (True != 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(json_equal(v, b[k]) for k, v in a.items()))
    if isinstance(a, list):
        return (isinstance(b, list) and len(a) == len(b)
                and all(json_equal(x, y) for x, y in zip(a, b)))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def identity(value: Any) -> Any:
    """A hashable key equal for values Go's ``==`` on ``interface{}`` finds equal.

    Go keeps int64 and float64 apart and bool apart from numbers, so the type is part of the key.
    """
    if isinstance(value, (dict, list)):
        return ("json", msgspec.json.encode(value, order="sorted"))
    return (type(value).__name__, value)


def go_repr(value: Any) -> str:
    """``fmt.Sprintf("%v")`` of a decoded JSON value, for messages that match kube's."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_repr(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_repr(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def go_type(value: Any) -> str:
    """The Go type name a decoded JSON value would have, for messages that match kube's."""
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return "string"


def json_kind(value: Any) -> str:
    """The JSON kind Go's decoder names in "cannot unmarshal <kind>" errors."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "null" if value is None else "number"
