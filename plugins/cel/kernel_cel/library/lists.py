"""kube's lists library (library/lists.go): isSorted, sum, min, max, indexOf, lastIndexOf."""

from __future__ import annotations

from typing import Any

from ..decls import fn, member

_COMPARABLE = ("int", "uint", "double", "bool", "duration", "timestamp", "string", "bytes")
_SUMMABLE = ("int", "uint", "double", "duration")
_IMPL = "list(kernel_cel.Unused)"  # see decls: the runtime-only overload


def _is_sorted(items: list[Any]) -> bool:
    return all(a <= b for a, b in zip(items, items[1:]))


def _extreme(name: str, pick: Any) -> Any:
    def impl(items: list[Any]) -> Any:
        if not items:
            raise ValueError(f"{name} called on empty list")
        return pick(items)
    return impl


def _sum(items: list[Any]) -> Any:
    total = items[0] if items else 0
    for item in items[1:]:
        total = total + item
    return total


def _index_of(items: list[Any], wanted: Any) -> int:
    for index, item in enumerate(items):
        if item == wanted and type(item) is type(wanted):
            return index
    return -1


def _last_index_of(items: list[Any], wanted: Any) -> int:
    for index in range(len(items) - 1, -1, -1):
        if items[index] == wanted and type(items[index]) is type(wanted):
            return index
    return -1


def _typed(name: str, id_name: str, types: tuple[str, ...], result: str | None, impl: Any) -> Any:
    """kube's overload per element type (for the checker) plus the one implementation."""
    overloads = [member(f"list_{t}_{id_name}_{result or t}", f"list({t})", result or t) for t in types]
    overloads.append(member(f"kernel_cel_list_{id_name}", _IMPL, "dyn", impl))
    return fn(name, *overloads)


FUNCTIONS = [
    _typed("isSorted", "is_sorted", _COMPARABLE, "bool", _is_sorted),
    _typed("sum", "sum", _SUMMABLE, None, _sum),
    _typed("max", "max", _COMPARABLE, None, _extreme("max", max)),
    _typed("min", "min", _COMPARABLE, None, _extreme("min", min)),
    fn("indexOf", member("list_a_index_of_int", "list(~A), ~A", "int"),
       member("kernel_cel_list_index_of", f"{_IMPL}, any", "int", _index_of)),
    fn("lastIndexOf", member("list_a_last_index_of_int", "list(~A), ~A", "int"),
       member("kernel_cel_list_last_index_of", f"{_IMPL}, any", "int", _last_index_of)),
]
