"""cel-go's sets extension, which kube's base environment has (ext.Sets): ``sets.contains``,
``sets.equivalent``, ``sets.intersects`` (cel-expr-python does not ship it)."""

from __future__ import annotations

from typing import Any

from ..decls import fn, glob

_IMPL = "list(kernel_cel.Unused), list(kernel_cel.Unused)"


def same(a: Any, b: Any) -> bool:
    """CEL equality on plain values: numbers across int/uint/double, never bool with a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def _contains(items: list[Any], wanted: list[Any]) -> bool:
    return all(any(same(w, i) for i in items) for w in wanted)


def _intersects(a: list[Any], b: list[Any]) -> bool:
    return any(any(same(x, y) for y in b) for x in a)


FUNCTIONS = [
    fn("sets.contains", glob("list_sets_contains_list", "list(~T), list(~T)", "bool"),
       glob("kernel_cel_sets_contains", _IMPL, "bool", _contains)),
    fn("sets.equivalent", glob("list_sets_equivalent_list", "list(~T), list(~T)", "bool"),
       glob("kernel_cel_sets_equivalent", _IMPL, "bool", lambda a, b: _contains(a, b) and _contains(b, a))),
    fn("sets.intersects", glob("list_sets_intersects_list", "list(~T), list(~T)", "bool"),
       glob("kernel_cel_sets_intersects", _IMPL, "bool", _intersects)),
]
