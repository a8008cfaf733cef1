"""cel-go's lists extension at version 3 (kube's base environment since 1.34): ``lists.range``,
``distinct``, ``flatten``, ``reverse``, ``slice``, ``sort``. Not here: ``sortBy`` (a macro) and
``first``/``last`` (they return optionals, which a Python function cannot build)."""

from __future__ import annotations

from typing import Any

from ..decls import fn, glob, member
from .sets import same

_IMPL = "list(kernel_cel.Unused)"


def _distinct(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not any(same(item, seen) for seen in out):
            out.append(item)
    return out


def _flatten(items: list[Any], depth: int = 1) -> list[Any]:
    if depth < 0:
        raise ValueError("level must be non-negative")
    out: list[Any] = []
    for item in items:
        out.extend(_flatten(item, depth - 1) if isinstance(item, list) and depth > 0 else [item])
    return out


def _slice(items: list[Any], start: int, end: int) -> list[Any]:
    if start < 0 or end < 0:
        raise ValueError(f"cannot slice({start}, {end}), negative indexes not supported")
    if start > end:
        raise ValueError(f"cannot slice({start}, {end}), start index must be less than or equal to end index")
    if end > len(items):
        raise ValueError(f"cannot slice({start}, {end}), list is length {len(items)}")
    return items[start:end]


def _sort(items: list[Any]) -> list[Any]:
    kinds = {type(i) if not isinstance(i, (int, float)) or isinstance(i, bool) else float for i in items}
    if len(kinds) > 1:
        raise ValueError("list elements must have the same type")
    return sorted(items)


FUNCTIONS = [
    fn("lists.range", glob("lists_range", "int", "list(int)", lambda n: list(range(max(n, 0))))),
    fn("distinct", member("list_distinct", "list(~T)", "list(~T)"),
       member("kernel_cel_list_distinct", _IMPL, "dyn", _distinct)),
    fn("flatten", member("list_flatten", "list(list(~T))", "list(~T)"),
       member("list_flatten_int", "list(dyn), int", "list(dyn)", _flatten),
       member("kernel_cel_list_flatten", _IMPL, "dyn", _flatten)),
    fn("reverse", member("list_reverse", "list(~T)", "list(~T)"),
       member("kernel_cel_list_reverse", _IMPL, "dyn", lambda items: items[::-1])),
    fn("slice", member("list_slice", "list(~T), int, int", "list(~T)"),
       member("kernel_cel_list_slice", f"{_IMPL}, int, int", "dyn", _slice)),
    fn("sort", member("list_sort", "list(~T)", "list(~T)"),
       member("kernel_cel_list_sort", _IMPL, "dyn", _sort)),
]
