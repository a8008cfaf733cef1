"""kernel.admission.predicates: kube's webhook and policy matching (rules, scope, selectors,
matchPolicy, excludeResourceRules). Expected answers follow k8s.io/apiserver's predicates and
policy/matching (and their tests' cases)."""

from __future__ import annotations

from typing import Any

import pytest

from kernel.admission import Attributes, GroupVersionKind, GroupVersionResource, options_object
from kernel.admission.predicates import Match, MatchCriteria, Matcher, rule_matches, with_match
from kernel.apimachinery.status import StatusError
from kernel.authentication.user import UserInfo

NAMESPACES = {"prod": {"env": "prod"}, "dev": {"env": "dev"}, "bare": {}}
DEPLOY_V1 = GroupVersionResource("apps", "v1", "deployments")
DEPLOY_EXT = GroupVersionResource("extensions", "v1beta1", "deployments")
KIND_V1 = GroupVersionKind("apps", "v1", "Deployment")
KIND_EXT = GroupVersionKind("extensions", "v1beta1", "Deployment")


def request(resource: GroupVersionResource = GroupVersionResource("", "v1", "pods"), *, operation: str = "CREATE",
            namespace: str = "prod", name: str = "p", subresource: str = "", obj: Any = None,
            old: Any = None, kind: GroupVersionKind | None = None) -> Attributes:
    kind = kind or GroupVersionKind(resource.group, resource.version, "Pod")
    return Attributes(UserInfo("u"), operation, obj, old, options_object("CreateOptions", False),  # type: ignore[arg-type]
                      False, kind, resource, subresource, namespace, name)


def labelled(labels: dict[str, str] | None) -> dict[str, Any]:
    return {"metadata": {"name": "p", **({"labels": labels} if labels is not None else {})}}


def rule(**fields: Any) -> dict[str, Any]:
    return {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], **fields}


def equivalents(resource: GroupVersionResource, subresource: str):
    if resource.resource == "deployments":
        return [(DEPLOY_V1, KIND_V1), (DEPLOY_EXT, KIND_EXT)]
    return [(resource, GroupVersionKind(resource.group, resource.version, ""))]


MATCHER = Matcher(NAMESPACES.get, equivalents)


@pytest.mark.parametrize(("fields", "attributes", "expected"), [
    ({}, request(), True),
    ({"operations": ["UPDATE"]}, request(), False),
    ({"operations": ["CREATE", "UPDATE"]}, request(), True),
    ({"apiGroups": ["apps"]}, request(), False),
    ({"apiGroups": [""]}, request(), True),
    ({"apiVersions": ["v2"]}, request(), False),
    ({"resources": ["pods"]}, request(), True),
    ({"resources": ["pods"]}, request(subresource="status"), False),
    ({"resources": ["pods/status"]}, request(subresource="status"), True),
    ({"resources": ["pods/*"]}, request(subresource="status"), True),
    ({"resources": ["pods/*"]}, request(), True),  # kube's sub == "*" matches no subresource too
    ({"resources": ["*/status"]}, request(subresource="status"), True),
    ({"resources": ["*/*"]}, request(subresource="status"), True),
    ({"resources": ["*/*"]}, request(), True),  # all resources and their subresources
    ({"resources": ["*"]}, request(subresource="status"), False),
    ({"resources": ["configmaps"]}, request(), False),
    ({"scope": "Namespaced"}, request(), True),
    ({"scope": "Namespaced"}, request(namespace=""), False),
    ({"scope": "Cluster"}, request(namespace=""), True),
    ({"scope": "Cluster"}, request(), False),
    # a Namespace's requests carry its name as their namespace, yet it is cluster-scoped
    ({"scope": "Cluster"}, request(GroupVersionResource("", "v1", "namespaces"), namespace="prod"), True),
    ({"scope": "Namespaced"}, request(GroupVersionResource("", "v1", "namespaces"), namespace="prod"), False),
    ({"scope": "*"}, request(namespace=""), True),
])
def test_rules_match_as_kubes_rule_matcher(fields: dict[str, Any], attributes: Attributes, expected: bool) -> None:
    assert rule_matches(rule(**fields), attributes) is expected


def test_namespace_selector_reads_the_namespace_labels() -> None:
    criteria = MatchCriteria.for_webhook({"rules": [rule()], "namespaceSelector": {"matchLabels": {"env": "prod"}}})
    assert MATCHER.webhook(criteria, request(namespace="prod")) == Match(
        GroupVersionResource("", "v1", "pods"), GroupVersionKind("", "v1", "Pod"))
    assert MATCHER.webhook(criteria, request(namespace="dev")) is None
    assert MATCHER.webhook(criteria, request(namespace="bare")) is None
    # a cluster-scoped request (other than a Namespace) is never exempted by a namespaceSelector
    assert MATCHER.webhook(criteria, request(GroupVersionResource("", "v1", "nodes"), namespace="")) is not None
    expressions = MatchCriteria.for_webhook({"rules": [rule()], "namespaceSelector": {
        "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}})
    assert MATCHER.webhook(expressions, request(namespace="dev")) is not None
    assert MATCHER.webhook(expressions, request(namespace="bare")) is not None
    assert MATCHER.webhook(expressions, request(namespace="prod")) is None


def test_a_namespace_is_matched_by_its_own_labels() -> None:
    namespaces = GroupVersionResource("", "v1", "namespaces")
    criteria = MatchCriteria.for_webhook({"rules": [rule()], "namespaceSelector": {"matchLabels": {"env": "new"}}})
    created = request(namespaces, namespace="fresh", name="fresh", obj=labelled({"env": "new"}))
    assert MATCHER.webhook(criteria, created) is not None  # not looked up: it does not exist yet
    # a DELETE reads the stored namespace's labels
    deleted = request(namespaces, operation="DELETE", namespace="prod", name="prod", old=labelled({"env": "new"}))
    assert MATCHER.webhook(criteria, deleted) is None


def test_a_missing_namespace_is_kubes_404_only_when_the_rules_match() -> None:
    criteria = MatchCriteria.for_webhook({"rules": [rule(resources=["pods"])],
                                          "namespaceSelector": {"matchLabels": {"env": "prod"}}})
    with pytest.raises(StatusError) as caught:
        MATCHER.webhook(criteria, request(namespace="nowhere"))
    assert (caught.value.code, caught.value.message) == (404, 'namespaces "nowhere" not found')
    other = request(GroupVersionResource("", "v1", "configmaps"), namespace="nowhere")
    assert MATCHER.webhook(criteria, other) is None


def test_an_invalid_selector_is_an_internal_error() -> None:
    criteria = MatchCriteria.for_webhook({"rules": [rule()], "objectSelector": {
        "matchExpressions": [{"key": "a", "operator": "Near"}]}})
    with pytest.raises(StatusError) as caught:
        MATCHER.webhook(criteria, request(obj=labelled({})))
    assert caught.value.code == 500
    assert caught.value.message.startswith("Internal error occurred: ")


def test_object_selector_matches_the_new_or_the_old_object() -> None:
    criteria = MatchCriteria.for_webhook({"rules": [rule()], "objectSelector": {"matchLabels": {"app": "web"}}})
    assert MATCHER.webhook(criteria, request(obj=labelled({"app": "web"}))) is not None
    assert MATCHER.webhook(criteria, request(obj=labelled({"app": "db"}))) is None
    assert MATCHER.webhook(criteria, request(obj=labelled(None))) is None
    updated = request(operation="UPDATE", obj=labelled({}), old=labelled({"app": "web"}))
    assert MATCHER.webhook(criteria, updated) is not None
    assert MATCHER.webhook(criteria, request(operation="DELETE", old=labelled({"app": "web"}))) is not None
    everything = MatchCriteria.for_webhook({"rules": [rule()], "objectSelector": {}})
    assert MATCHER.webhook(everything, request(operation="DELETE")) is not None


def test_a_webhook_without_rules_matches_nothing() -> None:
    assert MATCHER.webhook(MatchCriteria.for_webhook({}), request()) is None


def test_match_policy_equivalent_matches_another_version_of_the_resource() -> None:
    webhook = {"rules": [rule(apiGroups=["extensions"], apiVersions=["v1beta1"], resources=["deployments"])]}
    attributes = request(DEPLOY_V1, kind=KIND_V1)
    match = MATCHER.webhook(MatchCriteria.for_webhook(webhook), attributes)
    assert match == Match(DEPLOY_EXT, KIND_EXT)
    converted = with_match(attributes, match)
    assert (converted.resource, converted.kind) == (DEPLOY_EXT, KIND_EXT)
    assert MATCHER.webhook(MatchCriteria.for_webhook({**webhook, "matchPolicy": "Exact"}), attributes) is None
    # a direct match wins over an equivalent one
    both = {"rules": [*webhook["rules"], rule(apiGroups=["apps"])]}
    assert MATCHER.webhook(MatchCriteria.for_webhook(both), attributes) == Match(DEPLOY_V1, KIND_V1)


def test_policy_matching_with_resource_names_and_exclusions() -> None:
    pods = rule(resources=["pods"])
    criteria = MatchCriteria.for_resources({"resourceRules": [{**pods, "resourceNames": ["a", "b"]}]})
    assert MATCHER.policy(criteria, request(name="a")) is not None
    assert MATCHER.policy(criteria, request(name="c")) is None
    excluded = MatchCriteria.for_resources({"resourceRules": [pods],
                                            "excludeResourceRules": [{**pods, "resourceNames": ["secret"]}]})
    assert MATCHER.policy(excluded, request(name="public")) is not None
    assert MATCHER.policy(excluded, request(name="secret")) is None
    # no resourceRules: every resource (the binding's matchResources left empty)
    assert MATCHER.policy(MatchCriteria.for_resources({}), request()) is not None
    assert MATCHER.policy(MatchCriteria.for_resources(None), request()) is not None
    selected = MatchCriteria.for_resources({"namespaceSelector": {"matchLabels": {"env": "dev"}}})
    assert MATCHER.policy(selected, request(namespace="prod")) is None
    assert MATCHER.policy(selected, request(namespace="dev")) is not None


def test_policy_exclusions_match_equivalent_resources_too() -> None:
    deployments = rule(apiGroups=["extensions"], resources=["deployments"])
    criteria = MatchCriteria.for_resources({"resourceRules": [rule()], "excludeResourceRules": [deployments]})
    assert MATCHER.policy(criteria, request(DEPLOY_V1, kind=KIND_V1)) is None
    exact = MatchCriteria.for_resources({"resourceRules": [rule()], "excludeResourceRules": [deployments],
                                         "matchPolicy": "Exact"})
    assert MATCHER.policy(exact, request(DEPLOY_V1, kind=KIND_V1)) is not None
