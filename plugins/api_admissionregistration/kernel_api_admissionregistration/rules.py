"""Validation shared by the webhook configurations and the policies: rules, match resources,
match conditions and selectors (pkg/apis/admissionregistration/validation)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kernel.apimachinery.commonvalidation import is_dns1035_label, validate_label_selector
from kernel.apimachinery.validation import (
    FieldError,
    is_dns1123_subdomain,
    is_qualified_name,
    validate_path_segment_name,
)

FAILURE_POLICIES = ("Fail", "Ignore")
MATCH_POLICIES = ("Equivalent", "Exact")
SCOPES = ("*", "Cluster", "Namespaced")
OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
MAX_MATCH_CONDITIONS = 64

#: compiles one CEL expression for the field at ``path``: the errors kube reports (none if fine)
ExpressionCheck = Callable[[str, str], list[FieldError]]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _wildcard_among_others(values: Sequence[Any], path: str, what: str) -> list[FieldError]:
    if len(values) > 1 and "*" in values:
        return [FieldError.invalid(path, list(values), f"if '*' is present, must not specify other {what}")]
    return []


def _resources(resources: list[Any], path: str) -> list[FieldError]:
    """validateResources: subresource wildcards must not overlap."""
    errs = [] if resources else [FieldError.required(path)]
    wild_sub: set[str] = set()  # x/*
    wild_res: set[str] = set()  # */x
    plain = False
    for i, entry in enumerate(resources):
        if not entry:
            errs.append(FieldError.required(f"{path}[{i}]"))
            continue
        if "/" not in entry:
            plain = entry != "*"
            continue
        res, sub = entry.split("/", 1)
        if res in wild_sub:
            errs.append(FieldError.invalid(f"{path}[{i}]", entry, f"if '{res}/*' is present, must not specify {entry}"))
        if sub in wild_res:
            errs.append(FieldError.invalid(f"{path}[{i}]", entry, f"if '*/{sub}' is present, must not specify {entry}"))
        if sub == "*":
            wild_sub.add(res)
        if res == "*":
            wild_res.add(sub)
    if len(resources) > 1 and "*/*" in resources:
        errs.append(FieldError.invalid(path, resources, "if '*/*' is present, must not specify other resources"))
    if "*" in resources and plain:
        errs.append(FieldError.invalid(path, resources,
                                       "if '*' is present, must not specify other resources without subresources"))
    return errs


def validate_rule_with_operations(rule: Mapping[str, Any], path: str) -> list[FieldError]:
    """validateRuleWithOperations (subresources allowed)."""
    errs: list[FieldError] = []
    operations = _list(rule.get("operations"))
    if not operations:
        errs.append(FieldError.required(f"{path}.operations"))
    if len(operations) > 1 and "*" in operations:
        errs.append(FieldError.invalid(f"{path}.operations", operations,
                                       "if '*' is present, must not specify other operations"))
    for i, operation in enumerate(operations):
        if operation not in OPERATIONS:
            errs.append(FieldError.not_supported(f"{path}.operations[{i}]", operation, OPERATIONS))
    groups, versions = _list(rule.get("apiGroups")), _list(rule.get("apiVersions"))
    if not groups:
        errs.append(FieldError.required(f"{path}.apiGroups"))
    errs += _wildcard_among_others(groups, f"{path}.apiGroups", "API groups")
    if not versions:
        errs.append(FieldError.required(f"{path}.apiVersions"))
    errs += _wildcard_among_others(versions, f"{path}.apiVersions", "API versions")
    errs += [FieldError.required(f"{path}.apiVersions[{i}]") for i, v in enumerate(versions) if not v]
    errs += _resources(_list(rule.get("resources")), f"{path}.resources")
    scope = rule.get("scope")
    if scope is not None and scope not in SCOPES:
        errs.append(FieldError.not_supported(f"{path}.scope", scope, SCOPES))
    return errs


def _named_rule(rule: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, name in enumerate(_list(rule.get("resourceNames"))):
        errs += [FieldError.invalid(f"{path}.resourceNames[{i}]", name, m)
                 for m in validate_path_segment_name(name)]
        if name in seen:
            errs.append(FieldError.duplicate(f"{path}.resourceNames[{i}]", name))
        seen.add(name)
    return errs + validate_rule_with_operations(rule, path)


def validate_match_resources(match: Mapping[str, Any] | None, path: str) -> list[FieldError]:
    """validateMatchResources (selectors strictly: this type came after kube's issue 99139)."""
    if match is None:
        return []
    errs: list[FieldError] = []
    policy = match.get("matchPolicy")
    if policy is None:
        errs.append(FieldError.required(f"{path}.matchPolicy"))
    elif policy not in MATCH_POLICIES:
        errs.append(FieldError.not_supported(f"{path}.matchPolicy", policy, MATCH_POLICIES))
    for key in ("namespaceSelector", "objectSelector"):
        if match.get(key) is None:
            errs.append(FieldError.required(f"{path}.{key}"))
        else:
            errs += validate_label_selector(match[key], f"{path}.{key}")
    for key in ("resourceRules", "excludeResourceRules"):
        for i, rule in enumerate(_list(match.get(key))):
            errs += _named_rule(_dict(rule), f"{path}.{key}[{i}]")
    return errs


def validate_match_conditions(conditions: list[Any], path: str, check: ExpressionCheck) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(conditions) > MAX_MATCH_CONDITIONS:
        errs.append(FieldError.too_many(path, len(conditions), MAX_MATCH_CONDITIONS))
    names: set[str] = set()
    for i, condition in enumerate(conditions):
        condition = _dict(condition)
        expression = (condition.get("expression") or "").strip()
        if not expression:
            errs.append(FieldError.required(f"{path}[{i}].expression"))
        else:
            errs += check(expression, f"{path}[{i}].expression")
        name = condition.get("name") or ""
        if not name:
            errs.append(FieldError.required(f"{path}[{i}].name"))
        else:
            errs += [FieldError.invalid(f"{path}[{i}].name", name, m) for m in is_qualified_name(name)]
            if name in names:
                errs.append(FieldError.duplicate(f"{path}[{i}].name", name))
            names.add(name)
    return errs


def validate_fully_qualified_name(name: str, path: str) -> list[FieldError]:
    """utilvalidation.IsFullyQualifiedName: a DNS subdomain of three segments or more."""
    if not name:
        return [FieldError.required(path)]
    problems = is_dns1123_subdomain(name)
    if problems:
        return [FieldError.invalid(path, name, ",".join(problems))]
    if len(name.split(".")) < 3:
        return [FieldError.invalid(path, name, "should be a domain with at least three segments separated by dots")]
    return []


def validate_review_versions(versions: list[Any], path: str, require_known: bool) -> list[FieldError]:
    """validateAdmissionReviewVersions: the server speaks v1 and v1beta1."""
    accepted = ("v1", "v1beta1")
    if not versions:
        return [FieldError.required(path, "must specify one of " + ", ".join(accepted))]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, version in enumerate(versions):
        if version in seen:
            errs.append(FieldError.invalid(f"{path}[{i}]", version, "duplicate version"))
            continue
        seen.add(version)
        errs += [FieldError.invalid(f"{path}[{i}]", version, m) for m in is_dns1035_label(version)]
    if require_known and not seen & set(accepted):
        errs.append(FieldError.invalid(path, versions, "must include at least one of " + ", ".join(accepted)))
    return errs
