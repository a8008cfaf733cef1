"""The one CEL environment the kernel's CEL consumers share (k8s.io/apiserver/pkg/cel/environment).

``Environment(variables=..., library=...)`` is cached per declaration: the same variables and
library give the same object, so compiling many rules against one schema builds one cel-cpp env.

Two cel-cpp environments back it when a variable has a schema type: a *checking* one where the
schema's objects are protobuf messages (field names and types are checked, and the checked AST
feeds the cost estimator), and an *evaluating* one where those variables are dyn and take the
plain JSON values (no conversion to messages, which would cost more than the evaluation).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from cel_expr_python import cel

from . import opaque
from .ast import decode_checked
from .cost import estimate
from .errors import CompileError, compile_message
from .library import LIBRARIES, authz, config, extensions
from .program import Program
from .protos import pool_with
from .rewrite import wrap_optionals
from .schema import Decl
from .types import DYN, DeclType, message_type


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
                if len(cls._cache) >= 1024:  # e.g. many CRD schema revisions: drop the oldest
                    cls._cache.pop(next(iter(cls._cache)))
                cls._cache[key] = env
        return env

    def _setup(self, variables: dict[str, DeclType], library: str) -> None:
        if library == "admission":  # kube's admission environments always have the authorizer
            variables.setdefault("authorizer", message_type(authz.AUTHZ))
            variables.setdefault("authorizer.requestResource", message_type(authz.RESOURCE))
        self.variables = variables
        self.library = library
        self.converters = {name: d.convert for name, d in variables.items() if d.convert is not None}
        declared, impls = config(library)
        files = list({d.file.name: d.file for d in variables.values() if d.file is not None}.values())
        typed = any(d.decl is not None for d in variables.values())

        def new_env(pool: Any, types: dict[str, Any]) -> Any:
            return cel.NewEnv(descriptor_pool=pool, config=declared, function_impls=impls,
                              variables=types, extensions=extensions(library))

        self._eval_env = new_env(opaque.POOL, {
            n: (DYN.cel_type if d.decl is not None else d.cel_type) for n, d in variables.items()})
        self._check_env = new_env(pool_with(files), {n: d.cel_type for n, d in variables.items()}) \
            if typed else self._eval_env
        self._programs: dict[tuple[str, str | None], Program] = {}

    def compile(self, expression: str, result: str | None = None,
                cost_limit: int | None = None) -> Program:
        """The checked program; CompileError with kube's detail when it does not compile, its
        type is not exactly ``result`` (``"bool"``, ``"string"``; kube refuses dyn too: ``must
        evaluate to bool but got dyn``; None: any type) or its estimated cost is over
        ``cost_limit`` (kube's "estimated rule cost exceeds budget")."""
        cached = self._programs.get((expression, result))
        if cached is None:
            cached = self._compile(expression, result)
            if len(self._programs) < 10_000:
                self._programs[(expression, result)] = cached
        if cost_limit is not None and cached.estimated_cost > cost_limit:
            raise CompileError(cost_message(cached.estimated_cost, cost_limit))
        return cached

    def _compile(self, expression: str, result: str | None) -> Program:
        source = wrap_optionals(expression)
        try:
            checked = self._check_env.compile(source)
            runnable = checked if self._check_env is self._eval_env else self._eval_env.compile(source)
        except RuntimeError as error:
            raise CompileError(compile_message(error)) from None
        got = _type_name(checked.return_type())
        if result is not None and got != result:
            raise CompileError(f"must evaluate to {result} but got {got}")
        tree = decode_checked(checked.serialize())
        return Program(self, expression, runnable, got, tree, estimate(tree, self.static_size)[1])

    def static_size(self, path: list[str]) -> tuple[int, int] | None:
        """kube's sizeEstimator: the schema bound of the value at ``path`` (``self.spec.@items``)."""
        declared = self.variables.get(path[0])
        decl: Decl | None = declared.decl if declared is not None else None
        for step in path[1:]:
            if decl is None:
                return None
            decl = decl.elem if step in ("@items", "@values") else decl.key if step == "@keys" \
                else decl.fields.get(step)
        return (0, decl.max_elements) if decl is not None else None

    def activation(self, values: Mapping[str, Any]) -> "Activation":
        """The values converted once, to evaluate many programs of this environment against."""
        return Activation(self, values)

    def _cel_activation(self, values: Mapping[str, Any]) -> Any:
        data = {}
        for name, value in values.items():
            if isinstance(value, authz.Authorizer):
                value = value.value()
            elif name in self.converters and value is not None:
                value = self.converters[name](value)
            data[name] = value
        return self._eval_env.Activation(data=data)


class Activation:
    """Values for one evaluation (e.g. one admission request), converted once. cel-expr-python
    ties the Python functions an evaluation calls (kube's libraries) to the thread that built the
    activation, so one used from another thread is rebuilt there (``in_this_thread``)."""

    def __init__(self, env: Environment, values: Mapping[str, Any]) -> None:
        self.env = env
        self.values = values
        self.thread = threading.get_ident()
        self.cel = env._cel_activation(values)

    def in_this_thread(self) -> "Activation":
        return self if self.thread == threading.get_ident() else Activation(self.env, self.values)


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


_PRIMITIVE_NAMES = {"BOOL": "bool", "INT": "int", "INT64": "int", "UINT": "uint", "UINT64": "uint",
                    "DOUBLE": "double", "STRING": "string", "BYTES": "bytes", "DYN": "dyn", "NULL": "null_type",
                    "TIMESTAMP": "google.protobuf.Timestamp", "DURATION": "google.protobuf.Duration",
                    "LIST": "list", "MAP": "map", "TYPE": "type", "ERROR": "error"}


def _type_name(cel_type: Any) -> str:
    """A cel-cpp type name in cel-go's spelling (``bool``, ``list(int)``, ``map(string, dyn)``);
    a schema's object is ``object``, as kube names its object DeclTypes."""
    def word(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("kernel_cel.schema"):
            return "object"
        return _PRIMITIVE_NAMES.get(text, text)
    return re.sub(r"[A-Za-z_][A-Za-z0-9_.]*", word, cel_type.name()).replace("<", "(").replace(">", ")")
