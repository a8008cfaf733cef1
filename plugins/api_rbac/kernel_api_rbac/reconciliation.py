"""kube's RBAC reconciliation (pkg/registry/rbac/reconciliation), without removal of extras.

A bootstrap role or binding that already exists is brought up to date, never replaced: missing
labels and annotations are added (the stored values win), missing rules and aggregation
selectors are added (rules a user added are kept), missing subjects are added. A binding whose
roleRef differs must be recreated (roleRef is immutable). An object annotated
``rbac.authorization.kubernetes.io/autoupdate: "false"`` is left alone.
"""

from __future__ import annotations

from typing import Any

from kernel_api_rbac.escalation import covers
from kernel_api_rbac.validation import default_binding

AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
Object = dict[str, Any]


def protected(existing: Object) -> bool:
    return ((existing.get("metadata") or {}).get("annotations") or {}).get(AUTOUPDATE) == "false"


def _metadata_with(existing: Object, expected: Object) -> Object | None:
    """``existing``'s metadata with the labels and annotations of ``expected`` it lacks (the
    stored values win), or None when it lacks none."""
    meta, wanted = existing.get("metadata") or {}, expected.get("metadata") or {}
    merged = {}
    for field in ("labels", "annotations"):
        have = meta.get(field) or {}
        value = {**(wanted.get(field) or {}), **have}
        if value != have:
            merged[field] = value
    return {**meta, **merged} if merged else None


def reconcile_role(existing: Object, expected: Object) -> Object | None:
    """The role to write back, or None when ``existing`` already has all of ``expected``.

    ``existing`` is not modified; the result shares what it leaves unchanged with it (a restart
    decides every bootstrap role here, nearly all unchanged: no copy for those)."""
    if protected(existing):
        return None
    changes: Object = {}
    metadata = _metadata_with(existing, expected)
    if metadata is not None:
        changes["metadata"] = metadata
    wanted_rule = expected.get("aggregationRule")
    if wanted_rule:
        have = list(((existing.get("aggregationRule") or {}).get("clusterRoleSelectors")) or [])
        missing = [s for s in wanted_rule.get("clusterRoleSelectors") or [] if s not in have]
        if missing or existing.get("aggregationRule") is None:
            changes["aggregationRule"] = {"clusterRoleSelectors": have + missing}
    have_rules = existing.get("rules") or []
    # A rule stored as it is expected covers itself: only the others need the coverage check
    # (what a restart finds is almost always the policy as written; the check was most of it).
    unmatched = [rule for rule in expected.get("rules") or [] if rule not in have_rules]
    _, missing_rules = covers(have_rules, unmatched) if unmatched else (True, [])
    if missing_rules:
        changes["rules"] = list(have_rules) + missing_rules
    return {**existing, **changes} if changes else None


def _subject_key(subject: Object) -> tuple[str, str, str, str]:
    return (subject.get("kind") or "", subject.get("apiGroup") or "", subject.get("name") or "",
            subject.get("namespace") or "")


def reconcile_binding(existing: Object, expected: Object) -> tuple[str, Object | None]:
    """(``"none"`` | ``"update"`` | ``"recreate"``, the binding to write); ``existing`` and
    ``expected`` are not modified."""
    if protected(existing):
        return "none", None
    wanted = {**expected, "roleRef": dict(expected.get("roleRef") or {}),
              "subjects": [dict(subject) for subject in expected.get("subjects") or []]}
    default_binding(wanted)  # on copies of what it defaults
    changes: Object = {}
    metadata = _metadata_with(existing, wanted)
    if metadata is not None:
        changes["metadata"] = metadata
    have = {_subject_key(s) for s in existing.get("subjects") or []}
    missing = [s for s in wanted.get("subjects") or [] if _subject_key(s) not in have]
    if missing:
        changes["subjects"] = list(existing.get("subjects") or []) + missing
    if (existing.get("roleRef") or {}) != wanted.get("roleRef"):
        server_set = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation")
        meta = {key: value for key, value in (changes.get("metadata") or existing["metadata"]).items()
                if key not in server_set}
        return "recreate", {**existing, **changes, "roleRef": wanted.get("roleRef"), "metadata": meta}
    return ("update", {**existing, **changes}) if changes else ("none", None)
