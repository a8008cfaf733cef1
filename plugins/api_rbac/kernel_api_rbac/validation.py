"""kube's pkg/apis/rbac/validation: PolicyRules, roleRefs and subjects, plus the v1 defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kernel.apimachinery.commonvalidation import validate_label_selector
from kernel.apimachinery.validation import (FieldError, GoLiteral, go_quote, name_is_dns_subdomain,
                                            validate_path_segment_name)

GROUP = "rbac.authorization.k8s.io"
SERVICE_ACCOUNT, USER, GROUP_KIND = "ServiceAccount", "User", "Group"
SUBJECT_KINDS = (SERVICE_ACCOUNT, USER, GROUP_KIND)


def default_binding(obj: dict[str, Any]) -> None:
    """SetDefaults_RoleBinding/ClusterRoleBinding and SetDefaults_Subject of rbac/v1."""
    role_ref = obj.get("roleRef")
    if isinstance(role_ref, dict) and not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = GROUP
    for subject in obj.get("subjects") or ():
        if isinstance(subject, dict) and not subject.get("apiGroup") and \
                subject.get("kind") in (USER, GROUP_KIND):
            subject["apiGroup"] = GROUP


def validate_policy_rule(rule: Mapping[str, Any], namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not rule.get("verbs"):
        errs.append(FieldError.required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs") or []
    if urls:
        if namespaced:
            errs.append(FieldError.invalid(f"{path}.nonResourceURLs", urls,
                                           "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(FieldError.invalid(
                f"{path}.nonResourceURLs", urls,
                "rules cannot apply to both regular resources and non-resource URLs"))
        return errs
    if not rule.get("apiGroups"):
        errs.append(FieldError.required(f"{path}.apiGroups",
                                        "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        errs.append(FieldError.required(f"{path}.resources",
                                        "resource rules must supply at least one resource"))
    return errs


def validate_rules(obj: Mapping[str, Any], namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(obj.get("rules") or ()):
        errs += validate_policy_rule(rule or {}, namespaced, f"rules[{i}]")
    return errs


def validate_aggregation_rule(obj: Mapping[str, Any]) -> list[FieldError]:
    rule = obj.get("aggregationRule")
    if rule is None:
        return []
    selectors = rule.get("clusterRoleSelectors") or []
    errs: list[FieldError] = []
    if not selectors:
        errs.append(FieldError.required(
            "aggregationRule.clusterRoleSelectors",
            "at least one clusterRoleSelector required if aggregationRule is non-nil"))
    for i, selector in enumerate(selectors):
        errs += validate_label_selector(selector, f"aggregationRule.clusterRoleSelectors[{i}]")
    return errs


def validate_role_ref(obj: Mapping[str, Any], kinds: tuple[str, ...]) -> list[FieldError]:
    ref = obj.get("roleRef") or {}
    errs: list[FieldError] = []
    if ref.get("apiGroup", "") != GROUP:
        errs.append(FieldError.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [GROUP]))
    if ref.get("kind", "") not in kinds:
        errs.append(FieldError.not_supported("roleRef.kind", ref.get("kind", ""), list(kinds)))
    name = ref.get("name") or ""
    if not name:
        errs.append(FieldError.required("roleRef.name"))
    else:
        errs += [FieldError.invalid("roleRef.name", name, m) for m in validate_path_segment_name(name)]
    return errs


def validate_subject(subject: Mapping[str, Any], namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name, kind, group = subject.get("name") or "", subject.get("kind") or "", subject.get("apiGroup") or ""
    if not name:
        errs.append(FieldError.required(f"{path}.name"))
    if kind == SERVICE_ACCOUNT:
        if name:
            errs += [FieldError.invalid(f"{path}.name", name, m) for m in name_is_dns_subdomain(name)]
        if group:
            errs.append(FieldError.not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(FieldError.required(f"{path}.namespace"))
    elif kind in (USER, GROUP_KIND):
        if group != GROUP:
            errs.append(FieldError.not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        errs.append(FieldError.not_supported(f"{path}.kind", kind, list(SUBJECT_KINDS)))
    return errs


def validate_binding(obj: Mapping[str, Any], namespaced: bool) -> list[FieldError]:
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    errs = validate_role_ref(obj, kinds)
    for i, subject in enumerate(obj.get("subjects") or ()):
        errs += validate_subject(subject or {}, namespaced, f"subjects[{i}]")
    return errs


def validate_role_ref_update(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """The roleRef of a binding never changes (delete and recreate the binding instead)."""
    new_ref, old_ref = _ref(obj), _ref(old)
    if new_ref != old_ref:
        value = GoLiteral('rbac.RoleRef{APIGroup:%s, Kind:%s, Name:%s}' % tuple(map(go_quote, new_ref)))
        return [FieldError.invalid("roleRef", value, "cannot change roleRef")]
    return []


def _ref(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    ref = obj.get("roleRef") or {}
    return ref.get("apiGroup") or "", ref.get("kind") or "", ref.get("name") or ""

