"""The Webhook authorizer in process against a real local HTTPS webhook: the review on the wire,
the cache (proven by the webhook's call count), retries, failure policies, match conditions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import msgspec
import pytest
import trio

from kernel.authentication.user import UserInfo
from kernel.authorization import AuthorizationError, Decision
from kernel.server.authorizationconfig import WebhookConfiguration
from kernel.testing.authorizer import non_resource, resource
from kernel_authz_webhook.authorizer import Backoff, WebhookAuthorizer
from kernel_authz_webhook.plugin import build
from kernel_authz_webhook.testing import RESET, LocalWebhook, by_user


@pytest.fixture
def webhook() -> Iterator[LocalWebhook]:
    """A real local HTTPS webhook deciding by_user."""
    with LocalWebhook() as hook:
        hook.decide = by_user
        yield hook


pytestmark = pytest.mark.trio
FAST = Backoff(duration=0.01, factor=1.5, jitter=0.2, steps=5)  # kube's shape, shorter delays

Make = Callable[..., WebhookAuthorizer]


@pytest.fixture
async def make(tmp_path: Path, webhook: LocalWebhook) -> AsyncIterator[Make]:
    built: list[WebhookAuthorizer] = []

    def make(token: str = "", **fields) -> WebhookAuthorizer:
        path = webhook.write_kubeconfig(tmp_path / f"webhook-{len(built)}.kubeconfig", token=token)
        hook = WebhookConfiguration(timeout=10, subject_access_review_version="v1",
                                    failure_policy="NoOpinion", connection_type="KubeConfigFile",
                                    kubeconfig_file=path)
        authorizer = build("test", msgspec.structs.replace(hook, **fields))
        authorizer.settings = replace(authorizer.settings, backoff=FAST)
        built.append(authorizer)
        return authorizer

    yield make
    for authorizer in built:
        await authorizer.aclose()


ALICE = UserInfo("alice", uid="u-1", groups=("devs", "system:authenticated"), extra={"scopes": ["a", "b"]})



async def failure(authorizer, attributes) -> tuple[Decision, str]:
    """The failure policy's decision and the error of a webhook that could not decide."""
    with pytest.raises(AuthorizationError) as raised:
        await authorizer.authorize(attributes)
    return raised.value.decision, str(raised.value)

async def test_the_review_on_the_wire_is_a_v1_subject_access_review(make: Make, webhook: LocalWebhook) -> None:
    authorizer = make(token="webhook-secret")
    decision, reason = await authorizer.authorize(
        resource(ALICE, "get", "deployments", namespace="dev", api_group="apps", name="web",
                 subresource="scale"))
    assert (decision, reason) == (Decision.ALLOW, "alice may")
    await authorizer.authorize(non_resource(ALICE, "get", "/healthz"))
    first, second = webhook.reviews
    assert first == {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": "alice", "uid": "u-1", "groups": ["devs", "system:authenticated"],
        "extra": {"scopes": ["a", "b"]},
        "resourceAttributes": {"namespace": "dev", "verb": "get", "group": "apps", "version": "v1",
                               "resource": "deployments", "subresource": "scale", "name": "web"}}}
    assert second["spec"]["nonResourceAttributes"] == {"path": "/healthz", "verb": "get"}
    assert "resourceAttributes" not in second["spec"]
    assert webhook.headers[0]["Authorization"] == "Bearer webhook-secret"


async def test_a_lists_selectors_are_sent_as_kubes_requirements(make: Make, webhook: LocalWebhook) -> None:
    listing = msgspec.structs.replace(resource(ALICE, "list", "pods", namespace="dev"),
                          field_selector="spec.nodeName=n1,status.phase!=Failed",
                          label_selector="app in (web,api),!canary,tier,size>3")
    assert (await make().authorize(listing))[0] is Decision.ALLOW
    attributes = webhook.reviews[0]["spec"]["resourceAttributes"]
    assert attributes["fieldSelector"] == {"requirements": [
        {"key": "spec.nodeName", "operator": "In", "values": ["n1"]},
        {"key": "status.phase", "operator": "NotIn", "values": ["Failed"]}]}
    requirements = attributes["labelSelector"]["requirements"]
    assert {r["key"]: r["operator"] for r in requirements} == {
        "app": "In", "canary": "DoesNotExist", "tier": "Exists"}  # kube leaves Gt/Lt out
    assert sorted(next(r for r in requirements if r["key"] == "app")["values"]) == ["api", "web"]


async def test_v1beta1_sends_group_not_groups(make: Make, webhook: LocalWebhook) -> None:
    authorizer = make(subject_access_review_version="v1beta1")
    assert (await authorizer.authorize(resource(ALICE, "list", "pods")))[0] is Decision.ALLOW
    review = webhook.reviews[0]
    assert review["apiVersion"] == "authorization.k8s.io/v1beta1"
    assert review["spec"]["group"] == ["devs", "system:authenticated"] and "groups" not in review["spec"]


async def test_identical_requests_are_answered_from_the_cache(make: Make, webhook: LocalWebhook) -> None:
    authorizer = make()
    for _ in range(3):
        assert (await authorizer.authorize(resource("alice", "get", "pods", namespace="a")))[0] is Decision.ALLOW
        assert (await authorizer.authorize(resource("bob", "get", "pods", namespace="a")))[0] is Decision.DENY
    assert len(webhook.reviews) == 2
    # Any other attribute is another question.
    await authorizer.authorize(resource("alice", "get", "pods", namespace="b"))
    await authorizer.authorize(resource(UserInfo("alice", groups=("x",)), "get", "pods", namespace="a"))
    assert len(webhook.reviews) == 4


@pytest.mark.parametrize(("authorized_ttl", "unauthorized_ttl", "calls"),
                         [(300.0, 300.0, 2), (300.0, 0.0, 4), (0.0, 300.0, 4)],
                         ids=["both-cached", "unauthorized-off", "authorized-off"])
async def test_allowed_and_not_allowed_answers_have_their_own_ttl(
        make: Make, webhook: LocalWebhook, authorized_ttl: float, unauthorized_ttl: float,
        calls: int) -> None:
    authorizer = make(authorized_ttl=authorized_ttl, unauthorized_ttl=unauthorized_ttl)
    for _ in range(3):
        await authorizer.authorize(resource("alice", "get", "pods"))
        await authorizer.authorize(resource("carol", "get", "pods"))  # no opinion: "unauthorized"
    allowed = sum(r["spec"]["user"] == "alice" for r in webhook.reviews)
    not_allowed = sum(r["spec"]["user"] == "carol" for r in webhook.reviews)
    assert (allowed, not_allowed) == {2: (1, 1), 4: (1 if authorized_ttl else 3, 1 if unauthorized_ttl else 3)}[calls]


async def test_an_expired_answer_is_asked_again(make: Make, webhook: LocalWebhook) -> None:
    authorizer = make(unauthorized_ttl=0.2)
    await authorizer.authorize(resource("bob", "get", "pods"))
    with trio.fail_after(10):
        while len(webhook.reviews) < 2:  # once the entry expired, the next request asks again
            await authorizer.authorize(resource("bob", "get", "pods"))
            await trio.sleep(0.05)


async def test_transient_failures_are_retried(make: Make, webhook: LocalWebhook) -> None:
    authorizer = make()
    webhook.fail_next(500, times=2)
    webhook.fail_next(429)
    assert (await authorizer.authorize(resource("alice", "get", "pods")))[0] is Decision.ALLOW
    assert len(webhook.reviews) == 4


async def test_a_reset_connection_is_retried(make: Make, webhook: LocalWebhook) -> None:
    authorizer = make()
    webhook.fail_next(RESET)
    assert (await authorizer.authorize(resource("alice", "get", "pods")))[0] is Decision.ALLOW
    assert len(webhook.reviews) == 2


async def test_retries_stop_after_five_attempts_then_the_failure_policy_decides(
        make: Make, webhook: LocalWebhook, caplog: pytest.LogCaptureFixture) -> None:
    authorizer = make()
    webhook.fail_next(500, times=10)
    with caplog.at_level(logging.ERROR, "kernel.authz_webhook"):
        decision, reason = await failure(authorizer, resource("alice", "get", "pods"))
    assert decision is Decision.NO_OPINION and "HTTP 500" in reason, reason
    assert len(webhook.reviews) == 5
    assert "Failed to make webhook authorizer request" in caplog.text


async def test_a_client_error_is_not_retried(make: Make, webhook: LocalWebhook) -> None:
    authorizer = make(failure_policy="Deny")
    webhook.fail_next(403)
    decision, reason = await failure(authorizer, resource("alice", "get", "pods"))
    assert decision is Decision.DENY and "HTTP 403" in reason
    assert len(webhook.reviews) == 1
    # A failure is not cached: the next request asks again.
    assert (await authorizer.authorize(resource("alice", "get", "pods")))[0] is Decision.ALLOW


@pytest.mark.parametrize(("policy", "expected"), [("NoOpinion", Decision.NO_OPINION), ("Deny", Decision.DENY)])
async def test_with_the_webhook_down_the_failure_policy_decides(
        make: Make, webhook: LocalWebhook, policy: str, expected: Decision,
        caplog: pytest.LogCaptureFixture) -> None:
    authorizer = make(failure_policy=policy)
    webhook.stop()
    with caplog.at_level(logging.ERROR, "kernel.authz_webhook"):
        decision, reason = await failure(authorizer, resource("alice", "get", "pods"))
    assert decision is expected
    assert reason.startswith("webhook authorizer test failed: ConnectError"), reason
    assert "Failed to make webhook authorizer request" in caplog.text


async def test_both_allowed_and_denied_is_a_deny(make: Make, webhook: LocalWebhook) -> None:
    webhook.decide = lambda review: {"allowed": True, "denied": True, "reason": "confused"}
    assert await make().authorize(resource("alice", "get", "pods")) == (Decision.DENY, "confused")


async def test_evaluation_error_is_the_reason_when_none_is_given(make: Make, webhook: LocalWebhook) -> None:
    webhook.decide = lambda review: {"allowed": False, "evaluationError": "policy store down"}
    assert await make().authorize(resource("x", "get", "pods")) == (Decision.NO_OPINION, "policy store down")


async def test_a_response_that_is_not_a_review_is_a_failure(make: Make, webhook: LocalWebhook) -> None:
    webhook.decide = lambda review: {"allowed": "yes"}
    decision, reason = await failure(make(), resource("alice", "get", "pods"))
    assert decision is Decision.NO_OPINION and "status.allowed" in reason


async def test_match_conditions_skip_the_webhook_when_one_is_false(make: Make, webhook: LocalWebhook) -> None:
    authorizer = make(match_condition_subject_access_review_version="v1", match_conditions=(
        "has(request.resourceAttributes)", "request.resourceAttributes.namespace == 'team-a'",
        "!('system:masters' in request.groups)"))
    assert (await authorizer.authorize(resource("alice", "get", "pods", namespace="team-a")))[0] is Decision.ALLOW
    assert await authorizer.authorize(resource("alice", "get", "pods", namespace="team-b")) == (Decision.NO_OPINION, "")
    assert await authorizer.authorize(non_resource("alice", "get", "/metrics")) == (Decision.NO_OPINION, "")
    assert [r["spec"]["resourceAttributes"]["namespace"] for r in webhook.reviews] == ["team-a"]


@pytest.mark.parametrize(("policy", "expected"), [("NoOpinion", Decision.NO_OPINION), ("Deny", Decision.DENY)])
async def test_a_match_condition_error_applies_the_failure_policy(
        make: Make, webhook: LocalWebhook, policy: str, expected: Decision) -> None:
    authorizer = make(failure_policy=policy, match_condition_subject_access_review_version="v1",
                      match_conditions=("request.resourceAttributes.namespace == 'a'",))
    decision, reason = await failure(authorizer, non_resource("alice", "get", "/metrics"))
    assert decision is expected
    assert reason.startswith("webhook authorizer test: cel evaluation error: expression "
                             "'request.resourceAttributes.namespace == 'a'' resulted in error"), reason
    assert webhook.reviews == []


async def test_rules_are_incomplete(make: Make) -> None:
    rules = await make().rules_for(UserInfo("alice"), "default")
    assert rules.incomplete and "does not support user rule resolution" in rules.error


async def test_a_client_certificate_from_the_kubeconfig_authenticates_to_the_webhook(tmp_path: Path) -> None:
    with LocalWebhook(require_client_cert=True) as webhook:
        webhook.decide = by_user
        hook = WebhookConfiguration(timeout=10, subject_access_review_version="v1",
                                    failure_policy="NoOpinion", connection_type="KubeConfigFile",
                                    kubeconfig_file=webhook.write_kubeconfig(tmp_path / "mtls", client_cert=True))
        without = msgspec.structs.replace(hook, kubeconfig_file=webhook.write_kubeconfig(tmp_path / "plain"))
        authorizer, anonymous = build("mtls", hook), build("plain", without)
        try:
            assert (await authorizer.authorize(resource("alice", "get", "pods")))[0] is Decision.ALLOW
            decision, reason = await failure(anonymous, resource("alice", "get", "pods"))
            assert decision is Decision.NO_OPINION and reason.startswith("webhook authorizer plain failed"), reason
        finally:
            await authorizer.aclose()
            await anonymous.aclose()
        assert webhook.clients == ["kube-apiserver"] and len(webhook.reviews) == 1
