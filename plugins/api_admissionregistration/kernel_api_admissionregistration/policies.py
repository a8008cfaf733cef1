"""validatingadmissionpolicies (+status) and validatingadmissionpolicybindings: defaulting,
validation (pkg/apis/admissionregistration/validation) and printer columns.

Not done: kube's check that the writer of a policy may read its paramKind (authz.go).
"""

from __future__ import annotations

import re
from typing import Any

from kernel.apimachinery.commonvalidation import format_label_selector, is_dns1035_label, validate_label_selector
from kernel.apimachinery.lazyre import lazy_compile
from kernel.apimachinery.validation import (
    FieldError,
    is_dns1123_subdomain,
    is_qualified_name,
    name_is_dns_subdomain,
    validate_path_segment_name,
)
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, StatusStrategy, Strategy, TableColumn

from kernel_api_admissionregistration import expressions
from kernel_api_admissionregistration.rules import (
    FAILURE_POLICIES,
    validate_match_conditions,
    validate_match_resources,
)
from kernel_api_admissionregistration.types import TYPES
from kernel_api_admissionregistration.webhookconfigurations import default_rule

GROUP, VERSION = "admissionregistration.k8s.io", "v1"
VALIDATION_ACTIONS = ("Audit", "Deny", "Warn")
REASONS = ("Forbidden", "Invalid", "RequestEntityTooLarge")
MAX_AUDIT_ANNOTATIONS = 20
MAX_VALUE_EXPRESSION_BYTES = 5 * 1024
_CEL_IDENTIFIER = lazy_compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
_CEL_RESERVED = frozenset(("true", "false", "null", "in", "as", "break", "const", "continue", "else",
                           "for", "function", "if", "import", "let", "loop", "package", "namespace",
                           "return", "var", "void", "while"))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def default_match_resources(match: Any) -> None:
    """SetDefaults_MatchResources (+ its rules' scope)."""
    if not isinstance(match, dict):
        return
    match.setdefault("matchPolicy", "Equivalent")
    match.setdefault("namespaceSelector", {})
    match.setdefault("objectSelector", {})
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in _list(match.get(key)):
            if isinstance(rule, dict):
                default_rule(rule)


def _param_kind(kind: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    api_version = kind.get("apiVersion") or ""
    if not api_version:
        errs.append(FieldError.required(f"{path}.apiVersion"))
    elif api_version.count("/") > 1:
        errs.append(FieldError.invalid(f"{path}.apiVersion", api_version,
                                       f"unexpected GroupVersion string: {api_version}"))
    else:
        group, _, version = api_version.rpartition("/")
        if group and (problems := is_dns1123_subdomain(group)):
            errs.append(FieldError.invalid(f"{path}.apiVersion", group, ",".join(problems)))
        if not version:
            errs.append(FieldError.invalid(f"{path}.apiVersion", api_version, "version must be specified"))
        elif problems := is_dns1035_label(version):
            errs.append(FieldError.invalid(f"{path}.apiVersion", version, ",".join(problems)))
    name = kind.get("kind") or ""
    if not name:
        errs.append(FieldError.required(f"{path}.kind"))
    elif problems := is_dns1035_label(name.lower()):
        errs.append(FieldError.invalid(f"{path}.kind", name,
                                       "may have mixed case, but should otherwise match: " + ",".join(problems)))
    return errs


def _validation(rule: dict[str, Any], path: str, params: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    expression = rule.get("expression") or ""
    if not expression.strip():
        errs.append(FieldError.required(f"{path}.expression", "expression is not specified"))
    else:
        errs += expressions.validation_check(expression, f"{path}.expression", params)
    message_expression = rule.get("messageExpression") or ""
    if message_expression and not message_expression.strip():
        errs.append(FieldError.invalid(f"{path}.messageExpression", message_expression,
                                       "must be non-empty if specified"))
    elif message_expression:
        errs += expressions.message_check(message_expression, f"{path}.messageExpression", params)
    message = rule.get("message") or ""
    if message and not message.strip():
        errs.append(FieldError.invalid(f"{path}.message", message, "must be non-empty if specified"))
    elif re.search(r"[\n\r]", message.strip()):
        errs.append(FieldError.invalid(f"{path}.message", message, "must not contain line breaks"))
    reason = rule.get("reason")
    if reason is not None and reason not in REASONS:
        errs.append(FieldError.not_supported(f"{path}.reason", reason, REASONS))
    return errs


def _variable(variable: dict[str, Any], path: str, params: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    name = variable.get("name") or ""
    if not name.strip():
        errs.append(FieldError.required(f"{path}.name", "name is not specified"))
    elif not _CEL_IDENTIFIER.match(name) or name in _CEL_RESERVED:
        errs.append(FieldError.invalid(f"{path}.name", name, "must be a valid CEL identifier"))
    expression = variable.get("expression") or ""
    if not expression.strip():
        errs.append(FieldError.required(f"{path}.expression", "expression is not specified"))
    else:
        errs += expressions.variable_check(expression, f"{path}.expression", params)
    return errs


def _audit_annotation(annotation: dict[str, Any], policy: str, path: str, params: bool) -> list[FieldError]:
    key = annotation.get("key") or ""
    if policy:
        errs = [FieldError.invalid(f"{path}.key", f"{policy}/{key}", m) for m in is_qualified_name(f"{policy}/{key}")]
    else:
        errs = [FieldError.invalid(f"{path}.key", key, "requires metadata.name be non-empty")]
    value = (annotation.get("valueExpression") or "").strip()
    if not value:
        errs.append(FieldError.required(f"{path}.valueExpression", "valueExpression is not specified"))
    elif len(value.encode()) > MAX_VALUE_EXPRESSION_BYTES:
        errs.append(FieldError.required(f"{path}.valueExpression",
                                        f"must not exceed {MAX_VALUE_EXPRESSION_BYTES} bytes in length"))
    else:
        errs += expressions.audit_annotation_check(value, f"{path}.valueExpression", params)
    return errs


def _annotations(spec: dict[str, Any], policy: str, params: bool) -> list[FieldError]:
    annotations = _list(spec.get("auditAnnotations"))
    errs: list[FieldError] = []
    if len(annotations) > MAX_AUDIT_ANNOTATIONS:
        errs.append(FieldError.invalid("spec.auditAnnotations", annotations,
                                       f"must not have more than {MAX_AUDIT_ANNOTATIONS} auditAnnotations"))
    keys: set[str] = set()
    for i, annotation in enumerate(annotations):
        annotation = _dict(annotation)
        errs += _audit_annotation(annotation, policy, f"spec.auditAnnotations[{i}]", params)
        key = annotation.get("key") or ""
        if key in keys:
            errs.append(FieldError.duplicate(f"spec.auditAnnotations[{i}].key", key))
        keys.add(key)
    return errs


def validate_policy_spec(obj: Object) -> list[FieldError]:
    """validateValidatingAdmissionPolicySpec."""
    spec = _dict(obj.get("spec"))
    policy = _dict(obj.get("metadata")).get("name") or ""
    errs: list[FieldError] = []
    failure = spec.get("failurePolicy")
    if failure is None:
        errs.append(FieldError.required("spec.failurePolicy"))
    elif failure not in FAILURE_POLICIES:
        errs.append(FieldError.not_supported("spec.failurePolicy", failure, FAILURE_POLICIES))
    params = spec.get("paramKind") is not None
    if params:
        errs += _param_kind(_dict(spec["paramKind"]), "spec.paramKind")
    constraints = spec.get("matchConstraints")
    if constraints is None:
        errs.append(FieldError.required("spec.matchConstraints"))
    else:
        errs += validate_match_resources(_dict(constraints), "spec.matchConstraints")
        if not _list(_dict(constraints).get("resourceRules")):
            # at least one rule: it gives the expressions their types
            errs.append(FieldError.required("spec.matchConstraints.resourceRules"))
    errs += validate_match_conditions(_list(spec.get("matchConditions")), "spec.matchConditions",
                                      expressions.policy_match_condition_check(params))
    for i, variable in enumerate(_list(spec.get("variables"))):
        errs += _variable(_dict(variable), f"spec.variables[{i}]", params)
    validations = _list(spec.get("validations"))
    if not validations and not _list(spec.get("auditAnnotations")):
        detail = "validations or auditAnnotations must contain at least one item"
        return errs + [FieldError.required("spec.validations", detail),
                       FieldError.required("spec.auditAnnotations", detail)]
    for i, rule in enumerate(validations):
        errs += _validation(_dict(rule), f"spec.validations[{i}]", params)
    return errs + _annotations(spec, policy, params)


def validate_policy_status(obj: Object) -> list[FieldError]:
    """validateValidatingAdmissionPolicyStatus: each expression warning names a field and says why."""
    status = _dict(obj.get("status"))
    errs: list[FieldError] = []
    warnings = _list(_dict(status.get("typeChecking")).get("expressionWarnings"))
    for i, warning in enumerate(warnings):
        warning = _dict(warning)
        path = f"status.typeChecking.expressionWarnings[{i}]"
        if not warning.get("warning"):
            errs.append(FieldError.required(f"{path}.warning"))
        if not (warning.get("fieldRef") or "").strip():
            errs.append(FieldError.required(f"{path}.fieldRef"))
    return errs


class PolicyStrategy(Strategy):
    """Status only through /status; generation counts spec changes."""

    track_generation = True
    allow_create_on_update = False
    allow_unconditional_update = True

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("failurePolicy", "Fail")
            default_match_resources(spec.get("matchConstraints"))

    def prepare_for_create(self, obj: Object) -> None:
        obj["status"] = {}

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        if "status" in old:
            obj["status"] = old["status"]
        else:
            obj.pop("status", None)

    def validate(self, obj: Object) -> list[Any]:
        return validate_policy_spec(obj)

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return validate_policy_spec(obj)


class PolicyStatusStrategy(StatusStrategy):
    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return validate_policy_status(obj)


def _validation_actions(actions: list[Any]) -> list[FieldError]:
    path = "spec.validationActions"
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, action in enumerate(actions):
        if action not in VALIDATION_ACTIONS:
            errs.append(FieldError.not_supported(f"{path}[{i}]", action, VALIDATION_ACTIONS))
        if action in seen:
            errs.append(FieldError.duplicate(f"{path}[{i}]", action))
        seen.add(action)
    if {"Deny", "Warn"} <= seen:
        errs.append(FieldError.invalid(path, actions, "must not contain both Deny and Warn (repeating the same "
                                       "validation failure information in the API response and headers serves "
                                       "no purpose)"))
    if not seen:
        errs.append(FieldError.required(path, "at least one validation action is required"))
    return errs


def _param_ref(ref: dict[str, Any] | None) -> list[FieldError]:
    if ref is None:
        return []
    path = "spec.paramRef"
    errs: list[FieldError] = []
    name, selector = ref.get("name") or "", ref.get("selector")
    if name:
        errs += [FieldError.invalid(f"{path}.name", name, m) for m in validate_path_segment_name(name)]
        if selector is not None:
            errs.append(FieldError.forbidden(f"{path}.name", "name and selector are mutually exclusive"))
    if selector is not None:
        errs += validate_label_selector(selector, f"{path}.selector")
        if name:
            errs.append(FieldError.forbidden(f"{path}.selector", "name and selector are mutually exclusive"))
    if not name and selector is None:
        errs.append(FieldError.required(path, "one of name or selector must be specified"))
    action = ref.get("parameterNotFoundAction")
    if not action:
        errs.append(FieldError.required(f"{path}.parameterNotFoundAction"))
    elif action not in ("Deny", "Allow"):
        errs.append(FieldError.not_supported(f"{path}.parameterNotFoundAction", action, ("Deny", "Allow")))
    return errs


def validate_binding_spec(obj: Object) -> list[FieldError]:
    """validateValidatingAdmissionPolicyBindingSpec."""
    spec = _dict(obj.get("spec"))
    errs: list[FieldError] = []
    policy = spec.get("policyName") or ""
    if not policy:
        errs.append(FieldError.required("spec.policyName"))
    else:
        errs += [FieldError.invalid("spec.policyName", policy, m) for m in name_is_dns_subdomain(policy)]
    ref = spec.get("paramRef")
    errs += _param_ref(_dict(ref) if ref is not None else None)
    match = spec.get("matchResources")
    errs += validate_match_resources(_dict(match) if match is not None else None, "spec.matchResources")
    return errs + _validation_actions(_list(spec.get("validationActions")))


class BindingStrategy(Strategy):
    track_generation = True
    allow_create_on_update = False
    allow_unconditional_update = True

    def default(self, obj: Object) -> None:
        default_match_resources(_dict(obj.get("spec")).get("matchResources"))

    def validate(self, obj: Object) -> list[Any]:
        return validate_binding_spec(obj)

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return validate_binding_spec(obj)


def _param_kind_cell(obj: Object) -> str:
    kind = _dict(obj.get("spec")).get("paramKind")
    if not isinstance(kind, dict):
        return "<unset>"
    return f"{kind.get('apiVersion', '')}/{kind.get('kind', '')}"


def _param_ref_cell(obj: Object) -> str:
    ref = _dict(obj.get("spec")).get("paramRef")
    if not isinstance(ref, dict):
        return "<unset>"
    if ref.get("name"):
        return f"{ref.get('namespace') or '*'}/{ref['name']}"
    if ref.get("selector") is not None:
        return format_label_selector(ref["selector"])
    return "<unset>"


POLICY_KIND, BINDING_KIND = "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"

policy_spec = ResourceSpec(
    group=GROUP,
    version=VERSION,
    kind=POLICY_KIND,
    plural="validatingadmissionpolicies",
    singular="validatingadmissionpolicy",
    namespaced=False,
    **TYPES.spec_fields(POLICY_KIND),
    categories=("api-extensions",),
    subresources=("status",),
    strategy=PolicyStrategy(),
    subresource_strategies={"status": PolicyStatusStrategy()},
    table_columns=(
        NAME_COLUMN,
        TableColumn("Validations", "integer", lambda o: len(_list(_dict(o.get("spec")).get("validations"))),
                    description="Validations indicates the number of validation rules defined in this "
                                "configuration"),
        TableColumn("ParamKind", "string", _param_kind_cell,
                    description="ParamKind specifies the kind of resources used to parameterize this policy"),
        AGE_COLUMN,
    ),
    description=TYPES.description(POLICY_KIND),
)

binding_spec = ResourceSpec(
    group=GROUP,
    version=VERSION,
    kind=BINDING_KIND,
    plural="validatingadmissionpolicybindings",
    singular="validatingadmissionpolicybinding",
    namespaced=False,
    **TYPES.spec_fields(BINDING_KIND),
    categories=("api-extensions",),
    strategy=BindingStrategy(),
    table_columns=(
        NAME_COLUMN,
        TableColumn("PolicyName", "string", lambda o: _dict(o.get("spec")).get("policyName") or "",
                    description="PolicyName indicates the policy definition which the policy binding binded to"),
        TableColumn("ParamRef", "string", _param_ref_cell,
                    description="ParamRef indicates the param resource which sets the configuration param"),
        AGE_COLUMN,
    ),
    description=TYPES.description(BINDING_KIND),
)
