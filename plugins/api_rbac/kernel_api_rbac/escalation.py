"""Escalation prevention's arithmetic: kube's policy comparator (``validation.Covers``,
BreakdownRule), CompactRules, CompactString and ConfirmNoEscalation (pkg/registry/rbac/validation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kernel.apimachinery.validation import go_quote
from kernel.authentication.user import UserInfo

from kernel_api_rbac.ruleresolver import RuleResolver, aggregate_errors

ALL = "*"
Rule = Mapping[str, Any]


# -- the policy comparator -------------------------------------------------------------------

def breakdown_rule(rule: Rule) -> list[dict[str, list[str]]]:
    """One rule per group × resource × verb (× resourceName), and per URL × verb."""
    out: list[dict[str, list[str]]] = []
    verbs, names = rule.get("verbs") or [], rule.get("resourceNames") or []
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in verbs:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                out += [{**base, "resourceNames": [name]} for name in names] if names else [base]
    for url in rule.get("nonResourceURLs") or []:
        out += [{"nonResourceURLs": [url], "verbs": [verb]} for verb in verbs]
    return out


def _has_all(owner: Sequence[str], wanted: Sequence[str]) -> bool:
    return set(wanted) <= set(owner)


def _resource_covers(owner: Sequence[str], resource: str) -> bool:
    if resource in owner:
        return True
    if "/" not in resource:
        return False
    return "*/" + resource.split("/", 1)[1] in owner


def _url_covers(owner: Sequence[str], url: str) -> bool:
    return any(o == url or (o.endswith("*") and url.startswith(o[:-1])) for o in owner)


def rule_covers(owner: Rule, sub: Rule) -> bool:
    owner_verbs, owner_groups = owner.get("verbs") or [], owner.get("apiGroups") or []
    owner_resources, owner_names = owner.get("resources") or [], owner.get("resourceNames") or []
    if not (ALL in owner_verbs or _has_all(owner_verbs, sub.get("verbs") or [])):
        return False
    if not (ALL in owner_groups or _has_all(owner_groups, sub.get("apiGroups") or [])):
        return False
    if ALL not in owner_resources and not all(
            _resource_covers(owner_resources, r) for r in sub.get("resources") or []):
        return False
    owner_urls = owner.get("nonResourceURLs") or []
    if not all(_url_covers(owner_urls, u) for u in sub.get("nonResourceURLs") or []):
        return False
    sub_names = sub.get("resourceNames") or []
    if not sub_names:  # a rule for every name needs an owner rule for every name
        return not owner_names
    return not owner_names or _has_all(owner_names, sub_names)


def covers(owner_rules: Sequence[Rule], servant_rules: Iterable[Rule]) -> tuple[bool, list[dict[str, Any]]]:
    """Whether ``owner_rules`` hold every permission of ``servant_rules``; the missing ones."""
    missing = [sub for rule in servant_rules for sub in breakdown_rule(rule)
               if not any(rule_covers(owner, sub) for owner in owner_rules)]
    return not missing, missing


def compact_rules(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    """kube's CompactRules: simple rules (one group, one resource, at most one name) of the same
    group/resource/name are merged into one with all their verbs."""
    compacted: list[dict[str, Any]] = []
    simple: dict[tuple[str, str, str], dict[str, Any]] = {}
    for rule in rules:
        names = rule.get("resourceNames") or []
        if (len(names) > 1 or rule.get("nonResourceURLs") or len(rule.get("apiGroups") or []) != 1
                or len(rule.get("resources") or []) != 1):
            compacted.append(dict(rule))
            continue
        key = (rule["apiGroups"][0], rule["resources"][0], names[0] if names else "")
        existing = simple.get(key)
        if existing is None:
            simple[key] = {**rule, "verbs": list(rule.get("verbs") or [])}
        else:
            existing["verbs"] += [v for v in rule.get("verbs") or [] if v not in existing["verbs"]]
    return compacted + list(simple.values())


def _go_strings(values: Sequence[str]) -> str:
    """Go's ``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


def compact_string(rule: Rule) -> str:
    """rbacv1helpers.CompactString: ``{APIGroups:["*"], Resources:["*"], Verbs:["*"]}``."""
    parts = [f"{label}:{_go_strings(rule[key])}" for label, key in (
        ("APIGroups", "apiGroups"), ("Resources", "resources"), ("NonResourceURLs", "nonResourceURLs"),
        ("ResourceNames", "resourceNames"), ("Verbs", "verbs")) if rule.get(key)]
    return "{" + ", ".join(parts) + "}"


def confirm_no_escalation(resolver: RuleResolver, user: UserInfo, namespace: str,
                          rules: Sequence[Rule]) -> str:
    """kube's ConfirmNoEscalation: "" when the user's own RBAC rules cover ``rules``, else the
    reason of the refusal (the missing rules, compacted, one per line)."""
    owner_rules, errors = resolver.rules_for(user, namespace)
    covered, missing = covers(owner_rules, rules)
    if covered:
        return ""
    descriptions = sorted({compact_string(rule) for rule in compact_rules(missing)})
    message = (f"user {go_quote(user.name)} (groups={_go_strings(user.groups)}) is "
               "attempting to grant RBAC permissions not currently held:\n" + "\n".join(descriptions))
    if errors:
        message += f"; resolution errors: [{aggregate_errors(errors)}]"
    return message
