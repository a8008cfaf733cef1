"""The audit policy: kube's rule matching (checker.go) and kube's load and validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.audit import Level, RequestAuditConfig
from kernel.authentication.user import UserInfo
from kernel.authorization import Attributes
from kernel_audit.policy import PolicyError, PolicyRuleEvaluator, load_policy, load_policy_file

ALICE = UserInfo("alice", groups=("devs", "system:authenticated"))


def policy(body: str) -> PolicyRuleEvaluator:
    return PolicyRuleEvaluator(load_policy(f"apiVersion: audit.k8s.io/v1\nkind: Policy\n{body}".encode()))


def resource(verb: str = "get", resource: str = "pods", namespace: str = "default",
             group: str = "", subresource: str = "", name: str = "p", user: UserInfo | None = ALICE
             ) -> Attributes:
    return Attributes(user=user, verb=verb, resource_request=True, namespace=namespace,  # type: ignore[arg-type]
                      api_group=group, api_version="v1", resource=resource,
                      subresource=subresource, name=name, path="/api/v1/...")


def non_resource(path: str, verb: str = "get") -> Attributes:
    return Attributes(user=ALICE, verb=verb, resource_request=False, path=path)


def level(evaluator: PolicyRuleEvaluator, attributes: Attributes) -> str:
    return evaluator.level_and_stages(attributes).level


def test_first_matching_rule_wins_and_no_match_is_none() -> None:
    p = policy("""rules:
- level: RequestResponse
  users: [bob]
- level: Metadata
  userGroups: [devs]
  verbs: [get]
- level: Request
""")
    assert level(p, resource(user=UserInfo("bob"))) == Level.REQUEST_RESPONSE
    assert level(p, resource()) == Level.METADATA
    assert level(p, resource(verb="list")) == Level.REQUEST
    only = policy("rules:\n- level: Metadata\n  users: [bob]\n")
    assert only.level_and_stages(resource()) == RequestAuditConfig(Level.NONE)


def test_users_and_groups_never_match_a_request_without_a_user() -> None:
    p = policy("rules:\n- level: Metadata\n  userGroups: [system:unauthenticated]\n- level: Request\n")
    assert level(p, resource(user=None)) == Level.REQUEST


def test_resources_groups_subresources_and_wildcards() -> None:
    p = policy("""rules:
- level: None
  resources: [{group: "", resources: ["pods/log"]}]
- level: Request
  resources: [{group: "", resources: ["pods/*"]}]
- level: RequestResponse
  resources: [{group: "*", resources: ["*/status"]}]
- level: Metadata
  resources: [{group: "apps", resources: ["deployments"], resourceNames: ["web"]}]
- level: Metadata
  resources: [{group: "", resources: ["pods"]}]
""")
    assert level(p, resource(subresource="log")) == Level.NONE
    assert level(p, resource(subresource="exec")) == Level.REQUEST
    assert level(p, resource(resource="deployments", group="apps", subresource="status")) \
        == Level.REQUEST_RESPONSE
    assert level(p, resource(resource="deployments", group="apps", name="web")) == Level.METADATA
    assert level(p, resource(resource="deployments", group="apps", name="api")) == Level.NONE
    assert level(p, resource()) == Level.REQUEST  # kube's "pods/*" matches pods itself too
    assert level(p, resource(resource="pods", group="apps")) == Level.NONE  # group must match


def test_namespaces_with_empty_string_for_cluster_scoped() -> None:
    p = policy("""rules:
- level: Request
  namespaces: [""]
- level: Metadata
  namespaces: ["kube-system"]
""")
    assert level(p, resource(resource="nodes", namespace="")) == Level.REQUEST
    assert level(p, resource(namespace="kube-system")) == Level.METADATA
    assert level(p, resource(namespace="default")) == Level.NONE
    assert level(p, non_resource("/healthz")) == Level.NONE  # namespaces mean resources only


def test_non_resource_urls_with_prefix_globs() -> None:
    p = policy("""rules:
- level: None
  nonResourceURLs: ["/healthz*", "/version"]
- level: Metadata
""")
    assert level(p, non_resource("/healthz")) == Level.NONE
    assert level(p, non_resource("/healthz/etcd")) == Level.NONE
    assert level(p, non_resource("/version")) == Level.NONE
    assert level(p, non_resource("/versions")) == Level.METADATA
    assert level(p, resource()) == Level.METADATA  # a URL rule never matches a resource


def test_omit_stages_add_up_and_omit_managed_fields_overrides() -> None:
    p = policy("""omitStages: [RequestReceived]
omitManagedFields: true
rules:
- level: Metadata
  verbs: [get]
  omitStages: [ResponseStarted]
  omitManagedFields: false
- level: Request
""")
    get = p.level_and_stages(resource())
    assert get.omit_stages == {"RequestReceived", "ResponseStarted"}
    assert get.omit_managed_fields is False
    other = p.level_and_stages(resource(verb="create"))
    assert other.omit_stages == {"RequestReceived"} and other.omit_managed_fields is True
    assert p.level_and_stages(non_resource("/x", verb="post")).level == Level.REQUEST


@pytest.mark.parametrize(("body", "message"), [
    ("rules: []\n", "loaded illegal policy with 0 rules"),
    ("rules:\n- level: Everything\n",
     'rules[0].level: Unsupported value: "Everything": supported values: "None", "Metadata", '
     '"Request", "RequestResponse"'),
    ("rules:\n- users: [a]\n", "rules[0].level: Required value"),
    ("rules:\n- level: None\n  nonResourceURLs: [healthz]\n",
     "rules[0].nonResourceURLs[0]: Invalid value: \"healthz\": non-resource URL rules must begin "
     "with a '/' character"),
    ("rules:\n- level: None\n  nonResourceURLs: ['/a*b']\n",
     "rules[0].nonResourceURLs[0]: Invalid value: \"/a*b\": non-resource URL wildcards '*' must "
     "be the final character of the rule"),
    ("rules:\n- level: None\n  nonResourceURLs: ['/a']\n  namespaces: [x]\n",
     'rules[0].nonResourceURLs: Invalid value: []string{"/a"}: rules cannot apply to both regular '
     "resources and non-resource URLs"),
    ("omitStages: [Started]\nrules:\n- level: None\n",
     'omitStages[0]: Invalid value: "Started": allowed stages are '
     "RequestReceived,ResponseStarted,ResponseComplete,Panic"),
    ("rules:\n- level: None\n  resources: [{resourceNames: [x]}]\n",
     'rules[0].resources.resourceNames: Invalid value: []string{"x"}: using resourceNames requires at '
     "least one resource"),
])
def test_invalid_policies_fail_with_kube_messages(body: str, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy(f"apiVersion: audit.k8s.io/v1\nkind: Policy\n{body}".encode())
    assert str(raised.value) == message


def test_several_errors_are_aggregated() -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy(b"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: X\n- {}\n")
    assert str(raised.value).startswith("[rules[0].level: Unsupported value")
    assert "rules[1].level: Required value" in str(raised.value)


def test_wrong_version_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match='no kind "Policy" is registered for version '
                                          '"audit.k8s.io/v1beta1"'):
        load_policy(b"apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n")
    with pytest.raises(PolicyError, match="Object 'Kind' is missing"):
        load_policy(b"rules: [{level: None}]\n")
    path = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError) as raised:
        load_policy_file(str(path))
    assert str(raised.value) == f'failed to read file path "{path}": open {path}: no such file or directory'
    path.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n")
    with pytest.raises(PolicyError) as raised:
        load_policy_file(str(path))
    assert str(raised.value) == f"loaded illegal policy with 0 rules: from file {path}"


def test_unknown_fields_are_decoded_leniently_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    p = policy("rules:\n- level: Metadata\n  verb: [get]\n")  # a typo: the rule matches everything
    assert level(p, resource(verb="delete")) == Level.METADATA
    assert 'unknown field "rules[0].verb"' in caplog.text
