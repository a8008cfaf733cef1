"""Function declarations for cel-cpp's environment config.

cel-expr-python's ``Overload`` cannot declare type parameters (``list(~A)``) nor ``any``; its YAML
environment config can, so kube's libraries are declared as a config (JSON is YAML) plus a map
from overload id to Python implementation.

Runtime dispatch in cel-cpp goes by argument *kinds* only, and an implementation registered for
a type parameter or ``dyn`` never matches. So each function has typed overloads WITHOUT an
implementation, for the checker (kube's exact signatures), plus one overload WITH the
implementation whose receiver is ``list(kernel_cel.Unused)`` (or the like): it never matches at
check time, but has the runtime kinds (``list``, ``any``) that every call has.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel


@dataclass(frozen=True)
class Overload:
    id: str
    args: tuple[str, ...]
    result: str
    member: bool = False
    impl: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Function:
    name: str
    overloads: tuple[Overload, ...]


def fn(name: str, *overloads: Overload) -> Function:
    return Function(name, overloads)


def member(id: str, args: str, result: str, impl: Callable[..., Any] | None = None) -> Overload:
    """``args``: comma-separated types, the receiver first (``"list(~A), ~A"``)."""
    return Overload(id, tuple(split_types(args)), result, True, impl)


def glob(id: str, args: str, result: str, impl: Callable[..., Any] | None = None) -> Overload:
    return Overload(id, tuple(split_types(args)), result, False, impl)


def split_types(text: str) -> list[str]:
    """Top-level comma split: ``"map(string, int), ~A"`` → ``["map(string, int)", "~A"]``."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def type_info(text: str) -> dict[str, Any]:
    """``"list(~A)"`` → cel-cpp config TypeInfo ``{type_name: list, params: [{A, type param}]}``."""
    text = text.strip()
    if text.startswith("~"):
        return {"type_name": text[1:], "is_type_param": True}
    if "(" not in text:
        return {"type_name": text}
    name, inner = text.split("(", 1)
    return {"type_name": name, "params": [type_info(p) for p in split_types(inner[:-1])]}


def config(functions: Iterable[Function]) -> tuple[Any, dict[str, Callable[..., Any]]]:
    """The cel-cpp EnvConfig declaring ``functions`` and the implementations by overload id."""
    declared: dict[str, list[dict[str, Any]]] = {}
    impls = {}
    for function in functions:  # one entry per name: libraries share names (indexOf)
        overloads = declared.setdefault(function.name, [])
        for overload in function.overloads:
            entry: dict[str, Any] = {"id": overload.id, "return": type_info(overload.result)}
            args = [type_info(a) for a in overload.args]
            if overload.member:
                entry["target"], args = args[0], args[1:]
            if args:
                entry["args"] = args
            overloads.append(entry)
            if overload.impl is not None:
                impls[overload.id] = overload.impl
    entries = [{"name": name, "overloads": overloads} for name, overloads in declared.items()]
    return cel.NewEnvConfigFromYaml(json.dumps({"name": "kernel", "functions": entries})), impls
