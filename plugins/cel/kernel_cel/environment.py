"""The one CEL environment the kernel's CEL consumers share (k8s.io/apiserver/pkg/cel/environment).

``Environment(variables=..., library=...)`` is cached per declaration: the same variables and
library give the same object, so compiling many rules against one schema builds one cel-cpp env.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from cel_expr_python import cel

from .errors import CompileError, compile_message
from . import opaque
from .library import LIBRARIES, config, extensions
from .program import Program
from .rewrite import wrap_optionals
from .library import authz
from .types import DeclType, message_type

_RESULT_NAMES = {"bool": "bool", "string": "string"}


class Environment:
    """Variables with declared types plus a library set: ``"crd"``, ``"admission"`` or ``"authz"``."""

    _cache: dict[tuple[str, tuple[tuple[str, str], ...]], "Environment"] = {}
    _lock = threading.Lock()

    def __new__(cls, variables: Mapping[str, DeclType], library: str = "crd") -> "Environment":
        if library not in LIBRARIES:
            raise ValueError(f"unknown CEL library set {library!r}")
        key = (library, tuple(sorted((name, decl.key) for name, decl in variables.items())))
        with cls._lock:
            env = cls._cache.get(key)
            if env is None:
                env = super().__new__(cls)
                env._setup(dict(variables), library)
                cls._cache[key] = env
        return env

    def _setup(self, variables: dict[str, DeclType], library: str) -> None:
        if library == "admission":  # kube's admission environments always have the authorizer
            variables.setdefault("authorizer", message_type(authz.AUTHZ))
            variables.setdefault("authorizer.requestResource", message_type(authz.RESOURCE))
        self.variables = variables
        self.library = library
        declared, impls = config(library)
        self._env = cel.NewEnv(
            descriptor_pool=opaque.POOL, config=declared, function_impls=impls,
            variables={name: decl.cel_type for name, decl in variables.items()},
            extensions=extensions(library))
        self._programs: dict[tuple[str, str | None], Program] = {}

    def compile(self, expression: str, result: str | None = None,
                cost_limit: int | None = None) -> Program:
        """The checked program; CompileError with kube's detail when it does not compile, its
        type is not ``result`` (``"bool"``/``"string"``; dyn passes as kube lets it) or its
        estimated cost is over ``cost_limit``."""
        cached = self._programs.get((expression, result))
        if cached is None:
            try:
                checked = self._env.compile(wrap_optionals(expression))
            except RuntimeError as error:
                raise CompileError(compile_message(error)) from None
            got = _type_name(checked.return_type())
            if result is not None and got not in (result, "dyn"):
                raise CompileError(f"must evaluate to {result} but got {got}")
            cached = Program(self, expression, checked, got)
            if len(self._programs) < 10_000:
                self._programs[(expression, result)] = cached
        if cost_limit is not None and cached.estimated_cost > cost_limit:
            raise CompileError(cost_message(cached.estimated_cost, cost_limit))
        return cached

    def activation(self, values: Mapping[str, Any]) -> Any:
        """The values converted once, to evaluate many programs of this environment against."""
        return Activation(self, values)

    def _cel_activation(self, values: Mapping[str, Any], functions: Any = None) -> Any:
        data = {}
        for name, value in values.items():
            decl = self.variables.get(name)
            if isinstance(value, authz.Authorizer):
                value = value.value()
            elif decl is not None and decl.convert is not None:
                value = decl.convert(value)
            data[name] = value
        if functions:
            return self._env.Activation(data=data, functions=functions)
        return self._env.Activation(data=data)


class Activation:
    """Values for one evaluation (e.g. one admission request), converted once."""

    def __init__(self, env: Environment, values: Mapping[str, Any], functions: Any = None) -> None:
        self.env = env
        self.cel = env._cel_activation(values, functions)


def cost_message(cost: int, limit: int, name: str = "estimated rule cost") -> str:
    """kube's wording when a cost is over its limit (apiextensions validation's getCostErrorMessage)."""
    factor = cost / limit if limit else float("inf")
    if factor > 100.0:
        text = "more than 100x"  # likely O(n^2) or worse: the figure adds nothing
    elif factor < 1.5:
        text = f"{factor:f}x"  # never "by a factor of 1.0x"
    else:
        text = f"{factor:.1f}x"
    return (f"{name} exceeds budget by factor of {text} (try simplifying the rule, or adding "
            "maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)")


def _type_name(cel_type: Any) -> str:
    """A cel-cpp type name in cel-go's spelling (``bool``, ``list(int)``, ``map(string, dyn)``)."""
    name = cel_type.name()
    lowered = name.lower().replace("<", "(").replace(">", ")").replace(",", ", ").replace(",  ", ", ")
    return {"int64": "int", "uint64": "uint"}.get(lowered, lowered)
