"""kube's RBAC reconciliation (pkg/registry/rbac/reconciliation), without removal of extras.

A bootstrap role or binding that already exists is brought up to date, never replaced: missing
labels and annotations are added (the stored values win), missing rules and aggregation
selectors are added (rules a user added are kept), missing subjects are added. A binding whose
roleRef differs must be recreated (roleRef is immutable). An object annotated
``rbac.authorization.kubernetes.io/autoupdate: "false"`` is left alone.
"""

from __future__ import annotations

import copy
from typing import Any

from kernel_api_rbac.escalation import covers
from kernel_api_rbac.validation import default_binding

AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
Object = dict[str, Any]


def protected(existing: Object) -> bool:
    return ((existing.get("metadata") or {}).get("annotations") or {}).get(AUTOUPDATE) == "false"


def _merge_metadata(result: Object, expected: Object) -> bool:
    """Labels and annotations of ``expected`` that ``result`` lacks; True when any was added."""
    changed = False
    meta, wanted = result.setdefault("metadata", {}), expected.get("metadata") or {}
    for field in ("labels", "annotations"):
        merged = {**(wanted.get(field) or {}), **(meta.get(field) or {})}
        if merged != (meta.get(field) or {}):
            meta[field] = merged
            changed = True
    return changed


def reconcile_role(existing: Object, expected: Object) -> Object | None:
    """The role to write back, or None when ``existing`` already has all of ``expected``."""
    if protected(existing):
        return None
    result = copy.deepcopy(existing)
    changed = _merge_metadata(result, expected)
    wanted_rule = expected.get("aggregationRule")
    if wanted_rule:
        have = list(((existing.get("aggregationRule") or {}).get("clusterRoleSelectors")) or [])
        missing = [s for s in wanted_rule.get("clusterRoleSelectors") or [] if s not in have]
        if missing or existing.get("aggregationRule") is None:
            result["aggregationRule"] = {"clusterRoleSelectors": have + missing}
            changed = True
    have_rules = existing.get("rules") or []
    # A rule stored as it is expected covers itself: only the others need the coverage check
    # (what a restart finds is almost always the policy as written; the check was most of it).
    unmatched = [rule for rule in expected.get("rules") or [] if rule not in have_rules]
    _, missing_rules = covers(have_rules, unmatched) if unmatched else (True, [])
    if missing_rules:
        result["rules"] = list(existing.get("rules") or []) + missing_rules
        changed = True
    return result if changed else None


def _subject_key(subject: Object) -> tuple[str, str, str, str]:
    return (subject.get("kind") or "", subject.get("apiGroup") or "", subject.get("name") or "",
            subject.get("namespace") or "")


def reconcile_binding(existing: Object, expected: Object) -> tuple[str, Object | None]:
    """(``"none"`` | ``"update"`` | ``"recreate"``, the binding to write)."""
    if protected(existing):
        return "none", None
    wanted = copy.deepcopy(expected)
    default_binding(wanted)
    result = copy.deepcopy(existing)
    changed = _merge_metadata(result, wanted)
    have = {_subject_key(s) for s in existing.get("subjects") or []}
    missing = [s for s in wanted.get("subjects") or [] if _subject_key(s) not in have]
    if missing:
        result["subjects"] = list(existing.get("subjects") or []) + missing
        changed = True
    if (existing.get("roleRef") or {}) != wanted.get("roleRef"):
        result["roleRef"] = wanted.get("roleRef")
        meta = result["metadata"]
        for field in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
            meta.pop(field, None)
        return "recreate", result
    return ("update", result) if changed else ("none", None)
