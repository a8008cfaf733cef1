"""The kernel's shared CEL environment: kube's libraries on cel-cpp (cel-expr-python), types
from OpenAPI schemas, cost estimates and limits. Used by admission webhooks' matchConditions,
ValidatingAdmissionPolicy, CRD x-kubernetes-validations and the authorization webhook."""

from .environment import Activation, Environment, cost_message
from .errors import CompileError, EvalError
from .library.authz import Authorizer
from .program import Program
from .types import DYN, DeclType, schema_type

__all__ = ["Activation", "Authorizer", "CompileError", "DYN", "DeclType", "Environment", "EvalError", "Program",
           "cost_message", "schema_type"]
