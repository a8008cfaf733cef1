"""Guards on the library declarations (see kernel_cel/decls.py for why they are shaped so)."""

from __future__ import annotations

from kernel_cel.decls import type_info
from kernel_cel.library import _ALL

_PLAIN = {"list", "map", "any", "string", "int", "uint", "double", "bool", "bytes", "dyn", "null",
          "timestamp", "duration"}


def _kind(text: str) -> str:
    name = type_info(text)["type_name"]
    return name if name in _PLAIN else "message"


def test_one_implementation_per_runtime_shape():
    """cel-cpp dispatches on argument kinds: two implementations with one shape cannot register."""
    seen: dict[tuple, str] = {}
    for function in _ALL:
        for overload in function.overloads:
            if overload.impl is None:
                continue
            shape = (function.name, overload.member, tuple(_kind(a) for a in overload.args))
            assert shape not in seen, f"{overload.id} and {seen[shape]} share {shape}"
            seen[shape] = overload.id


def test_every_function_is_implemented():
    """Each function name has an implementation (libraries may share one: isLessThan)."""
    implemented = {f.name for f in _ALL if any(o.impl is not None for o in f.overloads)}
    assert {f.name for f in _ALL} - implemented == set()
