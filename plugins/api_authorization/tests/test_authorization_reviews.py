"""authorization.k8s.io/v1: the four reviews in-process against a real AuthorizerChain, then
through a real server with kubectl (``auth can-i`` sends protobuf) and httpx."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

import kernel_api_authorization.plugin
from kernel.apimachinery import protobuf
from kernel.apimachinery.status import StatusError
from kernel.authentication import UserInfo
from kernel.authorization import (Attributes, AuthorizationError, AuthorizerChain, Decision, NonResourceRule,
                                  ResourceRule, Rules)
from kernel.endpoints.apigroup import APIGroup
from kernel.endpoints.discovery import api_resource_list
from kernel.registry.resource import protobuf_kinds
from kernel.testing import assemble, start_kernel
from kernel_api_authorization.reviews import (RESOURCES, LocalSubjectAccessReviewREST,
                                              SelfSubjectAccessReviewREST,
                                              SelfSubjectRulesReviewREST, SubjectAccessReviewREST,
                                              rules_status)

API_VERSION = "authorization.k8s.io/v1"


class Policy:
    """jane may get pods in dev; eve is denied outright; anything else has no opinion."""

    def __init__(self) -> None:
        self.asked: list[Attributes] = []

    async def authorize(self, a: Attributes) -> tuple[Decision, str]:
        self.asked.append(a)
        if a.user.name == "eve":
            return Decision.DENY, "eve is banned"
        if (a.user.name, a.verb, a.resource, a.namespace) == ("jane", "get", "pods", "dev"):
            return Decision.ALLOW, ""
        if (a.user.name, a.verb, a.path, a.resource_request) == ("jane", "get", "/logs", False):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, "no rule"

    async def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        if namespace != "dev":
            return Rules()
        return Rules((ResourceRule(("get",), ("",), ("pods",)),),
                     (NonResourceRule(("get",), ("/logs",)),))


def chain(policy: Policy | None = None) -> AuthorizerChain:
    return AuthorizerChain([("policy", policy or Policy())], "system:masters")


def sar(spec: dict, kind: str = "SubjectAccessReview", **metadata) -> dict:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def pods(verb: str = "get", namespace: str = "dev", **more) -> dict:
    return {"resourceAttributes": {"verb": verb, "resource": "pods", "namespace": namespace, **more}}


def test_entry_point_and_group(tmp_path: Path) -> None:
    (ep,) = [ep for ep in importlib.metadata.entry_points(group="kernel.plugins")
             if ep.name == "api_authorization"]
    assert ep.load() is kernel_api_authorization.plugin and ep.dist.name == "kernel-api-authorization"
    server = assemble(tmp_path, "--plugins=api_core,api_authorization,storage_memory",
                      "--authorization-mode=AlwaysDeny")
    group = server.context.component("api_groups", "authorization.k8s.io/v1")
    assert group.prefix == "/apis/authorization.k8s.io/v1"
    assert set(group.storage) == {"subjectaccessreviews", "localsubjectaccessreviews",
                                  "selfsubjectaccessreviews", "selfsubjectrulesreviews"}


def test_discovery_lists_create_only_kinds_one_namespaced() -> None:
    resources = api_resource_list(APIGroup("authorization.k8s.io", "v1", RESOURCES))["resources"]
    assert [(r["name"], r["kind"], r["namespaced"], r["verbs"]) for r in resources] == [
        ("localsubjectaccessreviews", "LocalSubjectAccessReview", True, ["create"]),
        ("selfsubjectaccessreviews", "SelfSubjectAccessReview", False, ["create"]),
        ("selfsubjectrulesreviews", "SelfSubjectRulesReview", False, ["create"]),
        ("subjectaccessreviews", "SubjectAccessReview", False, ["create"])]


async def test_subject_access_review_asks_the_chain_about_the_subject_as_given() -> None:
    policy = Policy()
    rest = SubjectAccessReviewREST(chain(policy).authorize)
    body = sar({"user": "jane", "groups": ["dev"], "uid": "u-1", "extra": {"k": ["v"]}, **pods()})
    answer = await rest.create("", body, UserInfo("admin"))
    assert answer["status"] == {"allowed": True} and answer["spec"] == body["spec"]
    assert answer["kind"] == "SubjectAccessReview" and answer["apiVersion"] == API_VERSION
    assert policy.asked[-1] == Attributes(UserInfo("jane", "u-1", ("dev",), {"k": ("v",)}), "get", True,
                                          namespace="dev", resource="pods")
    assert (await rest.create("", sar({"user": "jane", **pods("delete")}), None))["status"] == {
        "allowed": False, "reason": "no rule"}
    assert (await rest.create("", sar({"user": "eve", **pods()}), None))["status"] == {
        "allowed": False, "denied": True, "reason": "eve is banned"}
    masters = sar({"user": "x", "groups": ["system:masters"], **pods("delete")})
    assert (await rest.create("", masters, None))["status"] == {"allowed": True}
    non_resource = sar({"user": "jane", "nonResourceAttributes": {"path": "/logs", "verb": "get"}})
    assert (await rest.create("", non_resource, None))["status"] == {"allowed": True}


async def invalid(rest, body: dict, namespace: str = "") -> str:
    with pytest.raises(StatusError) as caught:
        await rest.create(namespace, body, UserInfo("jane"))
    assert caught.value.code == 422 and caught.value.reason == "Invalid"
    return caught.value.message


async def test_validation_messages_are_kubes() -> None:
    rest = SubjectAccessReviewREST(chain().authorize)
    assert await invalid(rest, sar({"user": "jane"})) == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid '
        'value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified')
    assert await invalid(rest, sar(pods())) == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at '
        'least one of user or group must be specified')
    both = sar({"user": "j", **pods(), "nonResourceAttributes": {"path": "/x", "verb": "get"}})
    assert await invalid(rest, both) == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid '
        'value: {"Path":"/x","Verb":"get"}: cannot be specified in '
        'combination with resourceAttributes')
    assert await invalid(rest, sar({"user": "j", **pods()}, name="x")) == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: metadata: Invalid value: '
        '{"name":"x","creationTimestamp":null}: must be empty')
    selector = sar({"user": "j", **pods(fieldSelector={"rawSelector": "a=b", "requirements": [
        {"key": "a", "operator": "In", "values": ["b"]}]})})
    assert await invalid(rest, selector) == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: '
        'spec.resourceAttributes.fieldSelector.rawSelector: Invalid value: "a=b": may not specified '
        'at the same time as requirements')
    self_rest = SelfSubjectAccessReviewREST(chain().authorize)
    assert "at least one of user or group" not in await invalid(
        self_rest, sar({}, "SelfSubjectAccessReview"))


async def test_local_review_is_confined_to_its_namespace() -> None:
    rest = LocalSubjectAccessReviewREST(chain().authorize)
    body = sar({"user": "jane", **pods()}, "LocalSubjectAccessReview")
    answer = await rest.create("dev", body, None)  # metadata.namespace defaults to the path's
    assert answer["metadata"] == {"namespace": "dev"} and answer["status"] == {"allowed": True}
    with pytest.raises(StatusError) as caught:
        await rest.create("dev", {**body, "metadata": {"namespace": "prod"}}, None)
    assert (caught.value.code, caught.value.message) == (
        400, "the namespace of the provided object does not match the namespace sent on the request")
    assert await invalid(rest, sar({"user": "jane", **pods(namespace="prod")}, "LocalSubjectAccessReview"),
                         "dev") == (
        'LocalSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes.namespace: '
        'Invalid value: "prod": must match metadata.namespace')
    non_resource = sar({"user": "jane", "nonResourceAttributes": {"path": "/logs", "verb": "get"}},
                       "LocalSubjectAccessReview")
    assert (await invalid(rest, non_resource, "dev")).endswith(
        'spec.nonResourceAttributes: Invalid value: {"Path":"/logs","Verb":"get"}: '
        'disallowed on this kind of request')
    named = sar({"user": "jane", **pods()}, "LocalSubjectAccessReview", name="x", namespace="dev")
    assert (await invalid(rest, named, "dev")).endswith(": must be empty except for namespace")


async def test_self_review_asks_about_the_caller() -> None:
    rest = SelfSubjectAccessReviewREST(chain().authorize)
    body = sar(pods(), "SelfSubjectAccessReview")
    assert (await rest.create("", body, UserInfo("jane")))["status"] == {"allowed": True}
    assert (await rest.create("", body, UserInfo("bob")))["status"] == {"allowed": False, "reason": "no rule"}
    with pytest.raises(StatusError) as caught:
        await rest.create("", body, None)
    assert (caught.value.code, caught.value.message) == (400, "no user present on request")


async def test_rules_review_lists_the_chains_rules() -> None:
    rest = SelfSubjectRulesReviewREST(chain().rules_for)
    answer = await rest.create("", {"spec": {"namespace": "dev"}}, UserInfo("jane"))
    assert answer == {"kind": "SelfSubjectRulesReview", "apiVersion": API_VERSION, "metadata": {},
                      "spec": {}, "status": {
                          "resourceRules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}],
                          "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/logs"]}],
                          "incomplete": False}}
    with pytest.raises(StatusError) as caught:
        await rest.create("", {"spec": {}}, UserInfo("jane"))
    assert (caught.value.code, caught.value.message) == (400, "no namespace on request")
    # A mode that cannot list rules makes the answer incomplete, with its error.
    assert rules_status(Rules(incomplete=True, error="webhook: down")) == {
        "resourceRules": [], "nonResourceRules": [], "incomplete": True, "evaluationError": "webhook: down"}


def test_protobuf_self_subject_access_review_decodes() -> None:
    kinds = protobuf_kinds(RESOURCES)
    assert set(kinds) == {(API_VERSION, spec.kind) for spec in RESOURCES}

    def ld(number: int, data: bytes) -> bytes:  # a length-delimited field, length < 128
        return bytes([number << 3 | 2, len(data)]) + data

    type_meta = ld(1, API_VERSION.encode()) + ld(2, b"SelfSubjectAccessReview")
    attributes = ld(1, b"dev") + ld(2, b"get") + ld(5, b"pods")  # namespace, verb, resource
    raw = ld(2, ld(1, attributes))  # spec.resourceAttributes
    assert protobuf.decode(protobuf.MAGIC + ld(1, type_meta) + ld(2, raw), None, kinds) == {
        "kind": "SelfSubjectAccessReview", "apiVersion": API_VERSION,
        "spec": {"resourceAttributes": {"namespace": "dev", "verb": "get", "resource": "pods"}}}


# --- a real server ------------------------------------------------------------------------------

ALLOWLIST = """users:
  jane:
    - verbs: [get, list]
      resources: [configmaps]
    - verbs: [create]
      resources: [selfsubjectaccessreviews, selfsubjectrulesreviews]
    - verbs: [get]
      nonResourceURLs: [/api, /api/*, /apis, /apis/*, /openapi/*, /version]
"""


@pytest.fixture
def kernel(tmp_path: Path):
    (tmp_path / "tokens.csv").write_text("jane-token,jane,u-jane\n")
    (tmp_path / "allow.yaml").write_text(ALLOWLIST)
    kernel = start_kernel(tmp_path, "--plugins=api_core,api_authorization,storage_memory,authn_token,"
                          "authz_allowlist", f"--token-auth-file={tmp_path / 'tokens.csv'}",
                          f"--allowlist-file={tmp_path / 'allow.yaml'}", "--authorization-mode=Allowlist")
    yield kernel
    kernel.stop()


def test_kubectl_auth_can_i(kernel, tmp_path: Path) -> None:
    def can_i(*args: str) -> tuple[int, str]:
        result = kernel.kubectl("auth", "can-i", *args, check=False)
        return result.returncode, result.stdout.strip()

    assert can_i("create", "pods") == (0, "yes")  # the admin kubeconfig: system:masters
    assert can_i("get", "configmaps", "--token=jane-token") == (0, "yes")
    assert can_i("create", "pods", "--token=jane-token") == (1, "no - not in the allowlist")
    assert can_i("get", "/version", "--token=jane-token") == (0, "yes")
    # The admin may impersonate: the review is about jane.
    assert can_i("get", "configmaps", "--as=jane") == (0, "yes")
    assert can_i("get", "pods", "--as=jane") == (1, "no - not in the allowlist")
    code, listed = can_i("--list")
    assert code == 0 and listed.splitlines()[1].split() == ["*.*", "[]", "[]", "[*]"]
    # Allowlist cannot list rules: kubectl says the list may be incomplete.
    listed = kernel.kubectl("auth", "can-i", "--list", "--token=jane-token")
    assert "Warning: the list may be incomplete" in listed.stderr


def test_reviews_over_http(kernel) -> None:
    with kernel.client() as admin:
        answer = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=sar(
            {"user": "jane", "resourceAttributes": {"verb": "list", "resource": "configmaps"}}))
        assert answer.status_code == 201 and answer.json()["status"] == {"allowed": True}
        answer = admin.post("/apis/authorization.k8s.io/v1/namespaces/dev/localsubjectaccessreviews",
                            json=sar({"user": "jane", **pods()}, "LocalSubjectAccessReview"))
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == {"allowed": False, "reason": "not in the allowlist"}
        answer = admin.post("/apis/authorization.k8s.io/v1/namespaces/prod/localsubjectaccessreviews",
                            json=sar({"user": "jane", **pods()}, "LocalSubjectAccessReview"))
        assert answer.status_code == 422 and answer.json()["message"].endswith("must match metadata.namespace")
        assert admin.get("/apis/authorization.k8s.io/v1/subjectaccessreviews").status_code == 405
    with kernel.client(token="jane-token") as jane:
        # jane may review herself but not others.
        answer = jane.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=sar(
            {"nonResourceAttributes": {"path": "/version", "verb": "get"}}, "SelfSubjectAccessReview"))
        assert answer.status_code == 201 and answer.json()["status"] == {"allowed": True}
        answer = jane.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=sar(
            {"user": "jane", **pods()}))
        assert answer.status_code == 403
        assert json.loads(answer.text)["message"].startswith(
            'subjectaccessreviews.authorization.k8s.io is forbidden: User "jane" cannot create')


class Failing:
    """A mode that cannot decide (a webhook that is down), with its failure policy's decision."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision

    async def authorize(self, a: Attributes) -> tuple[Decision, str]:
        raise AuthorizationError("policy service unreachable", self.decision)


async def test_a_failed_mode_is_the_reviews_evaluation_error() -> None:
    failing_first = AuthorizerChain([("failing", Failing(Decision.NO_OPINION)), ("policy", Policy())],
                                    "system:masters")
    rest = SubjectAccessReviewREST(failing_first.authorize)
    # A later mode still decides; kube then reports only that mode's answer.
    assert (await rest.create("", sar({"user": "jane", **pods()}), None))["status"] == {"allowed": True}
    assert (await rest.create("", sar({"user": "jane", **pods("delete")}), None))["status"] == {
        "allowed": False, "reason": "no rule", "evaluationError": "policy service unreachable"}
    denying = AuthorizerChain([("failing", Failing(Decision.DENY)), ("policy", Policy())], "system:masters")
    status = (await SubjectAccessReviewREST(denying.authorize).create(
        "", sar({"user": "jane", **pods()}), None))["status"]
    assert status == {"allowed": False, "denied": True, "evaluationError": "policy service unreachable"}


async def test_a_reviews_selectors_reach_the_modes() -> None:
    policy = Policy()
    rest = SubjectAccessReviewREST(chain(policy).authorize)
    raw = pods("list", fieldSelector={"rawSelector": "spec.nodeName=n1"},
               labelSelector={"requirements": [{"key": "app", "operator": "In", "values": ["web"]}]})
    await rest.create("", sar({"user": "jane", **raw}), None)
    asked = policy.asked[-1]
    assert (asked.field_selector, asked.label_selector) == ("spec.nodeName=n1", "app=web")
    assert asked.field_selector_requires("spec.nodeName") == "n1"
    assert asked.field_selector_requires("metadata.name") is None
