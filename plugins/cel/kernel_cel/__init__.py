"""The kernel's shared CEL environment: kube's libraries on cel-cpp (cel-expr-python), types
from OpenAPI schemas, cost estimates and limits. Used by admission webhooks' matchConditions,
ValidatingAdmissionPolicy, CRD x-kubernetes-validations and the authorization webhook."""

from .environment import Activation, Environment, cost_message
from .errors import CompileError, EvalError
from .library.authz import Authorizer
from .program import Program
from .limits import (PER_CALL_LIMIT, RUNTIME_CEL_COST_BUDGET, STATIC_ESTIMATED_COST_LIMIT,
                     STATIC_ESTIMATED_CRD_COST_LIMIT)
from .types import DYN, DeclType, message_type, schema_type

__all__ = ["Activation", "Authorizer", "CompileError", "DYN", "DeclType", "Environment", "EvalError",
           "PER_CALL_LIMIT", "Program", "RUNTIME_CEL_COST_BUDGET", "STATIC_ESTIMATED_COST_LIMIT",
           "STATIC_ESTIMATED_CRD_COST_LIMIT", "cost_message", "message_type", "schema_type"]
