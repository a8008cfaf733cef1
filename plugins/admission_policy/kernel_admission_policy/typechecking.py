"""Type checking of a policy's expressions against the schemas of the kinds it matches (kube's
validating ``TypeChecker``): what the status controller reports as
``status.typeChecking.expressionWarnings``.

The kinds are those the policy's ``matchConstraints.resourceRules`` name without wildcards (at
most 10, as kube); each is looked up among the served resources and its OpenAPI schema turned
into a CEL type (``kernel_cel.schema_type``). ``object``/``oldObject`` take that type and
``params`` the paramKind's; the other variables stay dyn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


import msgspec

import kernel_cel  # cel-cpp loads with the first policy compiled (see kernel_cel)
from kernel_cel.errors import CompileError

from .compiler import BASE_VARIABLES, OBJECT, OLD_OBJECT, PARAMS

MAX_TYPES_TO_CHECK = 10
COMPILATION_FAILED = "compilation failed: "


class KindSchema(msgspec.Struct, frozen=True):
    """A served kind and its OpenAPI schema (``schemas[name]``, ``$ref``s into ``schemas``)."""

    group: str
    version: str
    kind: str
    name: str
    schemas: Mapping[str, Any]

    @property
    def gvk(self) -> str:
        """schema.GroupVersionKind's String(): ``apps/v1, Kind=Deployment``."""
        return f"{self.group}/{self.version}, Kind={self.kind}"

    def decl_type(self) -> kernel_cel.DeclType:
        def resolve(ref: str) -> Mapping[str, Any] | None:
            return self.schemas.get(ref.rsplit("/", 1)[-1])
        schema = self.schemas.get(self.name)
        return kernel_cel.DYN if schema is None else kernel_cel.schema_type(schema, resolve)


#: ``kind_for(group, version, resource)``: the served kind's schema, or None.
KindFor = Callable[[str, str, str], KindSchema | None]
#: ``schema_for(group, version, kind)``: a kind's schema by its kind (for paramKind), or None.
SchemaFor = Callable[[str, str, str], KindSchema | None]


def kinds_to_check(policy: Mapping[str, Any], kind_for: KindFor) -> list[KindSchema]:
    """The kinds of the resource rules without wildcards, sorted, at most 10."""
    rules = ((policy.get("spec") or {}).get("matchConstraints") or {}).get("resourceRules") or ()
    found: dict[tuple[str, str, str], KindSchema] = {}
    for rule in rules:
        groups = [g for g in rule.get("apiGroups") or () if "*" not in g]
        versions = [v for v in rule.get("apiVersions") or () if "*" not in v]
        if len(groups) != len(rule.get("apiGroups") or ()) or len(versions) != len(rule.get("apiVersions") or ()):
            continue  # a wildcard group or version: kube checks none of the rule
        resources = sorted(r for r in rule.get("resources") or () if "*" not in r and "/" not in r)
        for group in sorted(groups):
            for version in sorted(versions):
                for resource in resources:
                    kind = kind_for(group, version, resource)
                    if kind is not None:
                        found.setdefault((kind.group, kind.version, kind.kind), kind)
                    if len(found) == MAX_TYPES_TO_CHECK:
                        return [found[key] for key in sorted(found)]
    return [found[key] for key in sorted(found)]


def check(policy: Mapping[str, Any], kind_for: KindFor, schema_for: SchemaFor) -> list[dict[str, str]]:
    """The policy's ExpressionWarnings: ``{"fieldRef": ..., "warning": ...}`` per expression
    that does not type-check against some matched kind."""
    spec = policy.get("spec") or {}
    kinds = kinds_to_check(policy, kind_for)
    if not kinds:
        return []
    params = _param_type(spec.get("paramKind"), schema_for)
    envs = [(kind, _environment(kind.decl_type(), params)) for kind in kinds]
    warnings: list[dict[str, str]] = []
    for index, validation in enumerate(spec.get("validations") or ()):
        for field in ("expression", "messageExpression"):
            expression = validation.get(field)
            if not expression:
                continue
            text = _check_expression(envs, expression)
            if text:
                warnings.append({"fieldRef": f"spec.validations[{index}].{field}", "warning": text})
    return warnings


def _param_type(param_kind: Mapping[str, Any] | None, schema_for: SchemaFor) -> kernel_cel.DeclType:
    if not param_kind:
        return kernel_cel.DYN
    group, _, version = (param_kind.get("apiVersion") or "").rpartition("/")
    found = schema_for(group, version, param_kind.get("kind") or "")
    return kernel_cel.DYN if found is None else found.decl_type()


def _environment(object_type: kernel_cel.DeclType,
                 params: kernel_cel.DeclType) -> kernel_cel.Environment:
    variables: dict[str, kernel_cel.DeclType] = {name: kernel_cel.DYN for name in BASE_VARIABLES}
    variables.update({OBJECT: object_type, OLD_OBJECT: object_type, PARAMS: params})
    return kernel_cel.Environment(variables=variables, library="admission")


def _check_expression(envs: Sequence[tuple[KindSchema, kernel_cel.Environment]],
                      expression: str) -> str:
    """kube's TypeCheckingResults.String(): ``<gvk>: <issues>\\n`` per failing kind, joined
    with newlines."""
    messages = []
    for kind, env in envs:
        try:
            env.compile(expression)
        except CompileError as error:
            issues = error.message
            if issues.startswith(COMPILATION_FAILED):
                issues = issues[len(COMPILATION_FAILED):]
            messages.append(f"{kind.gvk}: {issues}\n")
    return "\n".join(messages)
