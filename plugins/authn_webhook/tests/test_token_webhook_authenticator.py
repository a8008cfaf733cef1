"""The webhook token authenticator in process against a real local HTTPS TokenReview webhook: the
review on the wire, users, the cache (proven by the webhook's call count), retries, errors and
audiences."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import trio

from kernel.authentication import AuthenticationError, AuthenticatorChain, UserInfo
from kernel.testing.contracts import Credential
from kernel_authn_webhook.authenticator import WebhookTokenAuthenticator
from kernel_authn_webhook.testing import TokenWebhook
from kernel_webhook.backoff import Backoff
from kernel_webhook.generic import GenericWebhook

pytestmark = pytest.mark.trio
FAST = Backoff(duration=0.01, factor=1.5, jitter=0.2, steps=5)  # kube's shape, shorter delays
ALICE = {"username": "alice", "uid": "u-1", "groups": ["devs"], "extra": {"scopes": ["a", "b"]}}

Make = Callable[..., WebhookTokenAuthenticator]


@pytest.fixture
def webhook() -> Iterator[TokenWebhook]:
    with TokenWebhook({"t-alice": ALICE, "t-bob": {"username": "bob"}}) as hook:
        yield hook


@pytest.fixture
async def make(tmp_path: Path, webhook: TokenWebhook) -> AsyncIterator[Make]:
    built: list[WebhookTokenAuthenticator] = []

    def make(version: str = "v1", ttl: float = 120.0, audiences: tuple[str, ...] = (),
             token: str = "") -> WebhookTokenAuthenticator:
        config = webhook.write_kubeconfig(tmp_path / f"hook-{len(built)}.kubeconfig", token=token)
        authenticator = WebhookTokenAuthenticator(GenericWebhook.from_file(config, backoff=FAST),
                                                  version, ttl, audiences)
        built.append(authenticator)
        return authenticator

    yield make
    for authenticator in built:
        await authenticator.aclose()


def bearer(token: str):
    return Credential(headers={"Authorization": f"Bearer {token}"}).request()


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
async def test_a_token_the_webhook_knows_is_its_user(make: Make, webhook: TokenWebhook, version: str) -> None:
    authenticator = make(version, token="apiserver-credential")
    user = await authenticator.authenticate(bearer("t-alice"))
    assert user == UserInfo("alice", "u-1", ("devs",), {"scopes": ["a", "b"]})
    [(path, headers, review)] = webhook.server.requests
    assert path == "/authenticate"
    assert headers["Authorization"] == "Bearer apiserver-credential"  # the kubeconfig's user
    assert review == {"apiVersion": f"authentication.k8s.io/{version}", "kind": "TokenReview",
                      "metadata": {"creationTimestamp": None}, "spec": {"token": "t-alice"},
                      "status": {"user": {}}}


async def test_no_bearer_token_never_calls_the_webhook(make: Make, webhook: TokenWebhook) -> None:
    assert await make().authenticate(Credential().request()) is None
    assert await make().authenticate(
        Credential(headers={"Authorization": "Basic YTpi"}).request()) is None
    assert webhook.reviews == []


async def test_answers_are_cached_for_the_ttl_both_kinds(make: Make, webhook: TokenWebhook) -> None:
    authenticator = make(ttl=0.5)
    for _ in range(3):
        assert (await authenticator.authenticate(bearer("t-alice"))).name == "alice"
        assert await authenticator.authenticate(bearer("t-nobody")) is None
    assert (webhook.calls("t-alice"), webhook.calls("t-nobody")) == (1, 1)
    await trio.sleep(0.6)
    assert (await authenticator.authenticate(bearer("t-alice"))).name == "alice"
    assert await authenticator.authenticate(bearer("t-nobody")) is None
    assert (webhook.calls("t-alice"), webhook.calls("t-nobody")) == (2, 2)


async def test_a_ttl_of_zero_turns_the_cache_off(make: Make, webhook: TokenWebhook) -> None:
    authenticator = make(ttl=0)
    for _ in range(2):
        await authenticator.authenticate(bearer("t-alice"))
    assert webhook.calls("t-alice") == 2


async def test_concurrent_lookups_of_a_new_token_share_one_review(make: Make, webhook: TokenWebhook) -> None:
    authenticator = make()
    webhook.server.delay = 0.2
    users: list[str] = []

    async def one() -> None:
        users.append((await authenticator.authenticate(bearer("t-alice"))).name)

    async with trio.open_nursery() as nursery:
        for _ in range(20):
            nursery.start_soon(one)
    assert users == ["alice"] * 20
    assert webhook.calls("t-alice") == 1


async def test_an_error_in_the_review_is_a_401_and_not_cached(make: Make, webhook: TokenWebhook) -> None:
    authenticator = make()
    webhook.errors["t-broken"] = "token store unavailable"
    for _ in range(2):
        with pytest.raises(AuthenticationError, match="token store unavailable"):
            await authenticator.authenticate(bearer("t-broken"))
    assert webhook.calls("t-broken") == 2


async def test_transient_failures_are_retried_with_backoff(make: Make, webhook: TokenWebhook) -> None:
    authenticator = make()
    webhook.server.fail_next(500, times=2)
    webhook.server.fail_next(429)
    assert (await authenticator.authenticate(bearer("t-alice"))).name == "alice"
    assert webhook.calls("t-alice") == 4


async def test_retries_stop_after_five_attempts_and_the_failure_is_not_cached(
        make: Make, webhook: TokenWebhook) -> None:
    authenticator = make()
    webhook.server.fail_next(500, times=5)
    with pytest.raises(AuthenticationError, match="HTTP 500"):
        await authenticator.authenticate(bearer("t-alice"))
    assert webhook.calls("t-alice") == 5
    assert (await authenticator.authenticate(bearer("t-alice"))).name == "alice"


async def test_a_client_error_is_not_retried(make: Make, webhook: TokenWebhook) -> None:
    webhook.server.fail_next(403)
    with pytest.raises(AuthenticationError, match="HTTP 403"):
        await make().authenticate(bearer("t-alice"))
    assert webhook.calls("t-alice") == 1


async def test_a_webhook_that_is_down_fails_the_request_never_anonymous(
        make: Make, webhook: TokenWebhook) -> None:
    authenticator = make()
    webhook.stop()
    with pytest.raises(AuthenticationError, match="ConnectError"):
        await authenticator.authenticate(bearer("t-alice"))

    class Anonymous:
        async def authenticate(self, request):
            return UserInfo("system:anonymous", groups=("system:unauthenticated",))

    with pytest.raises(AuthenticationError):
        await AuthenticatorChain([("webhook", authenticator)], Anonymous()).authenticate(bearer("t-alice"))


async def test_a_answer_that_is_not_a_token_review_is_an_error(make: Make, webhook: TokenWebhook) -> None:
    webhook.server.handle = lambda path, body: {"kind": "TokenReview", "status": {"authenticated": "yes"}}
    with pytest.raises(AuthenticationError, match="status.authenticated is not a boolean"):
        await make().authenticate(bearer("t-alice"))


async def test_the_api_audiences_are_sent_and_must_intersect_the_answer(
        make: Make, webhook: TokenWebhook) -> None:
    authenticator = make(audiences=("api", "other"))
    assert (await authenticator.authenticate(bearer("t-alice"))).name == "alice"  # none returned: implicit
    assert webhook.reviews[-1]["spec"]["audiences"] == ["api", "other"]
    webhook.audiences = ["other", "elsewhere"]
    assert (await authenticator.authenticate(bearer("t-bob"))).name == "bob"
    webhook.audiences = ["elsewhere"]
    cold = make(audiences=("api",))
    assert await cold.authenticate(bearer("t-alice")) is None


async def test_an_unsupported_version_is_refused(tmp_path: Path, webhook: TokenWebhook) -> None:
    config = webhook.write_kubeconfig(tmp_path / "hook.kubeconfig")
    with pytest.raises(ValueError, match='unsupported authentication webhook version "v2"'):
        WebhookTokenAuthenticator(GenericWebhook.from_file(config), "v2", 1.0)
