"""GenericWebhook (a webhook of a kubeconfig file) against a real HTTPS server: the POST, the
kubeconfig's credentials, kube's retries and what is not retried, timeouts, and the backoff."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from kernel_webhook import Backoff, GenericWebhook, KubeconfigError, WebhookError
from kernel_webhook.testing import WebhookServer

pytestmark = pytest.mark.trio
FAST = Backoff(duration=0.01, factor=1.5, jitter=0.2, steps=5)


@pytest.fixture
def server():
    with WebhookServer() as served:
        yield served


@pytest.fixture
async def webhook(server: WebhookServer, tmp_path: Path):
    hook = GenericWebhook.from_file(server.write_kubeconfig(tmp_path / "hook", "/review", token="sekret"),
                                    timeout=5, backoff=FAST)
    yield hook
    await hook.aclose()


async def test_posts_the_object_with_the_kubeconfigs_token(webhook: GenericWebhook, server: WebhookServer) -> None:
    assert await webhook.post({"kind": "TokenReview", "spec": {"token": "t"}}) == {
        "kind": "TokenReview", "spec": {"token": "t"}}
    assert await webhook.post(b'{"raw": true}') == {"raw": True}
    (path, headers, body), _ = server.requests
    assert (path, body) == ("/review", {"kind": "TokenReview", "spec": {"token": "t"}})
    assert headers["Authorization"] == "Bearer sekret"
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("status", [429, 500, 504])
async def test_kubes_transient_answers_are_retried(webhook: GenericWebhook, server: WebhookServer,
                                                   status: int) -> None:
    server.fail_next(status, times=2)
    assert await webhook.post({"n": 1}) == {"n": 1}
    assert len(server.requests) == 3


async def test_retries_stop_after_the_backoffs_steps(webhook: GenericWebhook, server: WebhookServer) -> None:
    server.fail_next(500, b"boom", times=9)
    with pytest.raises(WebhookError, match="HTTP 500: boom") as caught:
        await webhook.post({})
    assert (caught.value.code, caught.value.retry, len(server.requests)) == (500, True, 5)


@pytest.mark.parametrize("status", [400, 403, 404, 501, 502])
async def test_other_errors_are_not_retried(webhook: GenericWebhook, server: WebhookServer, status: int) -> None:
    server.fail_next(status)
    with pytest.raises(WebhookError) as caught:
        await webhook.post({})
    assert (caught.value.code, caught.value.retry, len(server.requests)) == (status, False, 1)


async def test_an_answer_that_is_not_json_is_an_error(webhook: GenericWebhook, server: WebhookServer) -> None:
    server.handle = lambda path, body: b"<html>"
    with pytest.raises(WebhookError, match="invalid response"):
        await webhook.post({})


async def test_an_empty_answer_is_none(webhook: GenericWebhook, server: WebhookServer) -> None:
    server.handle = lambda path, body: b""
    assert await webhook.post({"kind": "EventList", "items": []}) is None


async def test_a_slow_webhook_times_out(server: WebhookServer, tmp_path: Path) -> None:
    hook = GenericWebhook.from_file(server.write_kubeconfig(tmp_path / "hook"), timeout=0.3, backoff=FAST)
    server.delay = 1
    try:
        with pytest.raises(WebhookError) as caught:
            await hook.post({})
        assert caught.value.result == "timeout"
        assert len(server.requests) == 1  # a timeout is not retried (kube: context deadline)
    finally:
        await hook.aclose()


async def test_a_refused_connection_is_not_retried(server: WebhookServer, tmp_path: Path) -> None:
    path = server.write_kubeconfig(tmp_path / "hook")
    server.stop()
    hook = GenericWebhook.from_file(path, backoff=FAST)
    with pytest.raises(WebhookError, match="ConnectError") as caught:
        await hook.post({})
    assert not caught.value.retry
    await hook.aclose()


async def test_an_unreadable_kubeconfig_says_why(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="No such file or directory"):
        GenericWebhook.from_file(str(tmp_path / "missing"))


async def test_the_backoff_is_kubes() -> None:
    assert Backoff() == Backoff(duration=0.5, factor=1.5, jitter=0.2, steps=5)
    delays = Backoff().delays()
    assert len(delays) == 4
    for delay, base in zip(delays, (0.5, 0.75, 1.125, 1.6875)):
        assert base <= delay <= base * 1.2
    assert Backoff(jitter=0).delays() == [0.5, 0.75, 1.125, 1.6875]
    assert Backoff(steps=1).delays() == []


async def test_a_webhook_is_usable_again_after_aclose(webhook: GenericWebhook, server: WebhookServer) -> None:
    await webhook.post({})
    await webhook.aclose()
    assert await webhook.post({"again": 1}) == {"again": 1}
    with trio.fail_after(5):
        await webhook.aclose()


