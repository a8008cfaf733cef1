"""The RBAC authorizer and its rule resolver: kube's subject matching, reasons and RulesFor."""

from __future__ import annotations

import pytest

from kernel.authentication import UserInfo
from kernel.authorization import Decision, NonResourceRule, ResourceRule
from kernel.testing.contracts import non_resource, resource
from kernel_api_rbac.ruleresolver import static_resolver
from kernel_authz_rbac.rbac import RBACAuthorizer

pytestmark = pytest.mark.trio
G = "rbac.authorization.k8s.io"


def role(name: str, rules: list[dict], namespace: str = "") -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"metadata": meta, "rules": rules}


def binding(name: str, kind: str, role_name: str, subjects: list[dict], namespace: str = "") -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"metadata": meta, "roleRef": {"apiGroup": G, "kind": kind, "name": role_name},
            "subjects": subjects}


def user(name: str) -> dict:
    return {"kind": "User", "apiGroup": G, "name": name}


def group(name: str) -> dict:
    return {"kind": "Group", "apiGroup": G, "name": name}


READ_PODS = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]}
ONE_CM = {"verbs": ["get", "update"], "apiGroups": [""], "resources": ["configmaps"],
          "resourceNames": ["settings"]}
SCALE = {"verbs": ["patch"], "apiGroups": ["*"], "resources": ["*/scale"]}
HEALTH = {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/logs/*"]}


@pytest.fixture
def authorizer() -> RBACAuthorizer:
    unrelated = [binding(f"other-{i}", "Role", "reader", [user(f"u{i}")], "dev") for i in range(1000)]
    return RBACAuthorizer(static_resolver(
        roles=[role("reader", [READ_PODS, ONE_CM], "dev")],
        role_bindings=[
            binding("alice-reads", "Role", "reader", [user("alice")], "dev"),
            binding("robot-reads", "Role", "reader", [{"kind": "ServiceAccount", "name": "robot"}], "dev"),
            binding("dangling", "Role", "missing", [user("carol")], "dev"),
            binding("scalers", "ClusterRole", "scaler", [group("ops")], "dev"), *unrelated],
        cluster_roles=[role("scaler", [SCALE]), role("health", [HEALTH])],
        cluster_role_bindings=[binding("health", "ClusterRole", "health", [group("ops")])]))


async def decide(authorizer: RBACAuthorizer, attributes) -> tuple[Decision, str]:
    return await authorizer.authorize(attributes)


async def test_user_binding_allows_its_rules_in_its_namespace_only(authorizer) -> None:
    decision, reason = await decide(authorizer, resource("alice", "list", "pods", namespace="dev"))
    assert decision is Decision.ALLOW
    assert reason == 'RBAC: allowed by RoleBinding "alice-reads/dev" of Role "reader" to User "alice"'
    assert (await decide(authorizer, resource("alice", "list", "pods", namespace="prod")))[0] \
        is Decision.NO_OPINION
    assert (await decide(authorizer, resource("alice", "delete", "pods", namespace="dev", name="p")))[0] \
        is Decision.NO_OPINION


async def test_subresources_and_resource_names(authorizer) -> None:
    alice = "alice"
    cases = [(resource(alice, "get", "pods", namespace="dev", name="p", subresource="log"), Decision.ALLOW),
             (resource(alice, "get", "pods", namespace="dev", name="p", subresource="exec"), Decision.NO_OPINION),
             (resource(alice, "update", "configmaps", namespace="dev", name="settings"), Decision.ALLOW),
             (resource(alice, "update", "configmaps", namespace="dev", name="other"), Decision.NO_OPINION),
             (resource(alice, "list", "configmaps", namespace="dev"), Decision.NO_OPINION)]
    for attributes, expected in cases:
        assert (await decide(authorizer, attributes))[0] is expected, attributes


async def test_service_account_subject_defaults_to_the_binding_namespace(authorizer) -> None:
    robot = UserInfo("system:serviceaccount:dev:robot", groups=("system:serviceaccounts",))
    decision, reason = await decide(authorizer, resource(robot, "get", "pods", namespace="dev", name="p"))
    assert decision is Decision.ALLOW
    assert reason.endswith('to ServiceAccount "robot/dev"')
    other = UserInfo("system:serviceaccount:prod:robot")
    assert (await decide(authorizer, resource(other, "get", "pods", namespace="dev", name="p")))[0] \
        is Decision.NO_OPINION


async def test_groups_wildcard_subresource_and_non_resource_prefix(authorizer) -> None:
    ops = UserInfo("dave", groups=("ops",))
    decision, reason = await decide(authorizer, resource(ops, "patch", "deployments", namespace="dev",
                                                         api_group="apps", name="d", subresource="scale"))
    assert decision is Decision.ALLOW
    assert reason == 'RBAC: allowed by RoleBinding "scalers/dev" of ClusterRole "scaler" to Group "ops"'
    assert (await decide(authorizer, non_resource(ops, "get", "/logs/kube.log")))[0] is Decision.ALLOW
    assert (await decide(authorizer, non_resource(ops, "get", "/healthz/etcd")))[0] is Decision.NO_OPINION
    assert (await decide(authorizer, non_resource("dave", "get", "/healthz")))[0] is Decision.NO_OPINION


async def test_a_binding_to_a_missing_role_is_the_reason(authorizer) -> None:
    decision, reason = await decide(authorizer, resource("carol", "get", "pods", namespace="dev", name="p"))
    assert (decision, reason) == (Decision.NO_OPINION,
                                  'RBAC: role.rbac.authorization.k8s.io "missing" not found')


async def test_only_the_users_bindings_are_read(authorizer) -> None:
    found = list(authorizer.resolver.bindings_for(UserInfo("alice"), "dev"))
    assert [b["metadata"]["name"] for b in found] == ["alice-reads"]


async def test_rules_for(authorizer) -> None:
    rules = await authorizer.rules_for(UserInfo("dave", groups=("ops",)), "dev")
    assert rules.non_resource_rules == (NonResourceRule(("get",), ("/healthz", "/logs/*")),)
    assert rules.resource_rules == (ResourceRule(("patch",), ("*",), ("*/scale",)),)
    carol = await authorizer.rules_for(UserInfo("carol"), "dev")
    assert (carol.resource_rules, carol.incomplete, carol.error) == (
        (), False, 'role.rbac.authorization.k8s.io "missing" not found')
