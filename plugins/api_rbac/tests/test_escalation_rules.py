"""The escalation arithmetic against kube's: Covers, CompactRules, CompactString, and
ConfirmNoEscalation's message; and the bootstrap reconciliation rules."""

from __future__ import annotations

import copy

from kernel.authentication import UserInfo
from kernel_api_rbac import bootstrappolicy
from kernel_api_rbac.escalation import (breakdown_rule, compact_rules, compact_string,
                                        confirm_no_escalation, covers)
from kernel_api_rbac.reconciliation import reconcile_binding, reconcile_role
from kernel_api_rbac.ruleresolver import static_resolver

G = "rbac.authorization.k8s.io"


def test_breakdown_and_covers() -> None:
    rule = {"verbs": ["get", "list"], "apiGroups": ["", "apps"], "resources": ["pods"]}
    assert len(breakdown_rule(rule)) == 4
    owner = [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]
    ok, missing = covers(owner, [rule])
    assert not ok and missing == [{"apiGroups": ["apps"], "resources": ["pods"], "verbs": ["get"]},
                                  {"apiGroups": ["apps"], "resources": ["pods"], "verbs": ["list"]}]
    star = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
    assert covers(star, [rule])[0]
    assert not covers(star, [{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}])[0]
    assert covers([{"verbs": ["get"], "nonResourceURLs": ["/logs/*"]}],
                  [{"verbs": ["get"], "nonResourceURLs": ["/logs/a"]}])[0]
    sub = [{"verbs": ["patch"], "apiGroups": ["apps"], "resources": ["*/scale"]}]
    assert covers(sub, [{"verbs": ["patch"], "apiGroups": ["apps"], "resources": ["deployments/scale"]}])[0]
    named = [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]}]
    assert covers(named, [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"],
                           "resourceNames": ["a"]}])[0]
    assert not covers(named, [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}])[0]


def test_compact_rules_and_strings() -> None:
    missing = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
               {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
               {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
    assert sorted(compact_string(r) for r in compact_rules(missing)) == [
        '{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}',
        '{NonResourceURLs:["/metrics"], Verbs:["get"]}']


def test_confirm_no_escalation_message() -> None:
    resolver = static_resolver(
        roles=[{"metadata": {"name": "maker", "namespace": "dev"},
                "rules": [{"verbs": ["create"], "apiGroups": [G], "resources": ["roles"]}]}],
        role_bindings=[{"metadata": {"name": "maker", "namespace": "dev"},
                        "roleRef": {"apiGroup": G, "kind": "Role", "name": "maker"},
                        "subjects": [{"kind": "User", "apiGroup": G, "name": "mallory"}]}])
    mallory = UserInfo("mallory", groups=("system:authenticated",))
    star = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
    assert confirm_no_escalation(resolver, mallory, "dev", star) == (
        'user "mallory" (groups=["system:authenticated"]) is attempting to grant RBAC permissions '
        'not currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}')
    assert confirm_no_escalation(resolver, mallory, "dev", [
        {"verbs": ["create"], "apiGroups": [G], "resources": ["roles"]}]) == ""


def test_reconcile_role_adds_what_is_missing_and_keeps_extras() -> None:
    expected = {"metadata": {"name": "r", "labels": {"a": "1"}, "annotations": {
        "rbac.authorization.kubernetes.io/autoupdate": "true"}},
        "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}
    existing = {"metadata": {"name": "r", "labels": {"a": "mine"}},
                "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["nodes"]}]}
    before = copy.deepcopy((existing, expected))
    result = reconcile_role(existing, expected)
    assert (existing, expected) == before  # the inputs are left as they were
    assert result["metadata"]["labels"] == {"a": "mine"}
    assert result["metadata"]["annotations"] == expected["metadata"]["annotations"]
    assert result["rules"] == [existing["rules"][0],
                               {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    assert reconcile_role(result, expected) is None
    protected = {**existing, "metadata": {"name": "r", "annotations": {
        "rbac.authorization.kubernetes.io/autoupdate": "false"}}}
    assert reconcile_role(protected, expected) is None


def test_reconcile_binding_subjects_and_role_ref() -> None:
    expected = {"metadata": {"name": "b"}, "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "x"},
                "subjects": [{"kind": "Group", "name": "g"}]}
    existing = {"metadata": {"name": "b", "resourceVersion": "5"},
                "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "x"},
                "subjects": [{"kind": "User", "apiGroup": G, "name": "extra"}]}
    before = copy.deepcopy((existing, expected))
    operation, result = reconcile_binding(existing, expected)
    assert operation == "update"
    assert (existing, expected) == before  # subjects defaulted on copies
    assert result["subjects"] == [existing["subjects"][0], {"kind": "Group", "apiGroup": G, "name": "g"}]
    assert reconcile_binding(result, expected) == ("none", None)
    moved = {**result, "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "old"}}
    operation, recreated = reconcile_binding(moved, expected)
    assert operation == "recreate" and recreated["roleRef"]["name"] == "x"
    assert "resourceVersion" not in recreated["metadata"]
    assert moved["metadata"]["resourceVersion"] == "5" and moved["roleRef"]["name"] == "old"


def test_reconciling_the_policy_as_stored_writes_nothing() -> None:
    # A restart finds every bootstrap role as it was written (in storage's shape): no update,
    # whether its rules are matched as written or (reordered) by the coverage check.
    for role in bootstrappolicy.cluster_roles() + bootstrappolicy.namespaced_roles():
        stored = copy.deepcopy(role)
        stored["metadata"].update(resourceVersion="7", uid="u")
        assert reconcile_role(stored, role) is None, role["metadata"]["name"]
        stored["rules"] = list(reversed(stored.get("rules") or []))
        assert reconcile_role(stored, role) is None, role["metadata"]["name"]
