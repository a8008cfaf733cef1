"""The kernel's shared CEL environment: kube's libraries on cel-cpp (cel-expr-python), types
from OpenAPI schemas, cost estimates and limits. Used by admission webhooks' matchConditions,
ValidatingAdmissionPolicy, CRD x-kubernetes-validations and the authorization webhook.

Importing this package is cheap: each name below is imported on first use (PEP 562). cel-cpp and
the protobuf runtime cost about 14 MB of RSS and 50 ms of startup, and a server needs them only
once it has an expression to compile. So a plugin imports ``kernel_cel`` (and the exceptions from
``kernel_cel.errors``) at the top and reaches ``kernel_cel.Environment`` when it compiles;
``from kernel_cel import Environment`` at a module's top would load cel-cpp with that module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import CompileError, EvalError
from .limits import (PER_CALL_LIMIT, RUNTIME_CEL_COST_BUDGET, STATIC_ESTIMATED_COST_LIMIT,
                     STATIC_ESTIMATED_CRD_COST_LIMIT)

if TYPE_CHECKING:
    from .environment import Activation, Environment, cost_message
    from .library.authz import Authorizer
    from .program import Program
    from .types import DYN, DeclType, message_type, schema_type

# name -> the module (relative to this package) that defines it
_LAZY = {"Activation": ".environment", "Environment": ".environment", "cost_message": ".environment",
         "Authorizer": ".library.authz", "Program": ".program", "DYN": ".types",
         "DeclType": ".types", "message_type": ".types", "schema_type": ".types"}

__all__ = ["Activation", "Authorizer", "CompileError", "DYN", "DeclType", "Environment", "EvalError",
           "PER_CALL_LIMIT", "Program", "RUNTIME_CEL_COST_BUDGET", "STATIC_ESTIMATED_COST_LIMIT",
           "STATIC_ESTIMATED_CRD_COST_LIMIT", "cost_message", "message_type", "schema_type"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value
