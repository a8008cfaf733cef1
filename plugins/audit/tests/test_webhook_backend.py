"""The audit webhook backend against a real local HTTPS webhook: EventLists on the wire, batching
by size and by time, retries, a slow webhook, shutdown, and the flags with kube's messages."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import trio
from prometheus_client import CollectorRegistry

from kernel.server.options import OptionSet, parse
from kernel_audit import webhook
from kernel_audit.batch import BufferedBackend, UnbatchedBackend
from kernel_webhook.testing import WebhookServer

TOKEN = "audit-sink-token"


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer() as hook:
        hook.handle = lambda path, body: {}
        yield hook


def write_kubeconfig(path: Path, server: WebhookServer, url_path: str = "/audit") -> str:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "sink",
        "clusters": [{"name": "sink", "cluster": {
            "server": server.url(url_path),
            "certificate-authority-data": base64.b64encode(server.ca_pem).decode()}}],
        "users": [{"name": "apiserver", "user": {"token": TOKEN}}],
        "contexts": [{"name": "sink", "context": {"cluster": "sink", "user": "apiserver"}}]}))
    return str(path)


def options(*argv: str) -> Any:
    option_set = OptionSet()
    webhook.add_webhook_options(option_set.for_plugin("audit"))
    result = parse(option_set, list(argv))
    assert result.errors == [] and result.unknown == []
    return result.options


def events(*ids: Any) -> list[dict[str, Any]]:
    return [{"level": "Metadata", "auditID": f"id-{i}", "stage": "ResponseComplete",
             "requestURI": "/api/v1/namespaces/default/pods", "verb": "list",
             "user": {"username": "alice", "groups": ["system:authenticated"]}}
            for i in ids]


def posted(server: WebhookServer) -> list[list[str]]:
    return [[item["auditID"] for item in body["items"]] for _, _, body in server.requests]


def errors(registry: CollectorRegistry, plugin: str) -> float:
    return registry.get_sample_value("apiserver_audit_error_total", {"plugin": plugin}) or 0.0


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.01)


async def test_a_batch_is_posted_as_an_event_list(tmp_path: Path, server: WebhookServer) -> None:
    backend = webhook.build(options(f"--audit-webhook-config-file={write_kubeconfig(tmp_path / 'k', server)}"))
    assert isinstance(backend, BufferedBackend) and backend.config.max_batch_size == 400
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        backend.process_events(events(1, 2, 3))
        await backend.shutdown()
    ((path, headers, body),) = server.requests
    assert path == "/audit"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert body == {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {},
                    "items": events(1, 2, 3)}


async def test_batches_by_size(tmp_path: Path, server: WebhookServer) -> None:
    backend = webhook.build(options(f"--audit-webhook-config-file={write_kubeconfig(tmp_path / 'k', server)}",
                                    "--audit-webhook-batch-max-size=2", "--audit-webhook-batch-max-wait=1m"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        backend.process_events(events(*range(5)))
        await wait_for(lambda: len(server.requests) == 2)  # the two full ones, not waiting a minute
        assert sorted(posted(server)) == [["id-0", "id-1"], ["id-2", "id-3"]]
        await backend.shutdown()
    assert sorted(posted(server)) == [["id-0", "id-1"], ["id-2", "id-3"], ["id-4"]]


async def test_batches_by_max_wait(tmp_path: Path, server: WebhookServer) -> None:
    backend = webhook.build(options(f"--audit-webhook-config-file={write_kubeconfig(tmp_path / 'k', server)}",
                                    "--audit-webhook-batch-max-wait=200ms"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        backend.process_events(events(1))
        backend.process_events(events(2))
        await wait_for(lambda: len(server.requests) == 1)  # before any shutdown: the timer sent it
        assert posted(server) == [["id-1", "id-2"]]
        await backend.shutdown()
    assert len(server.requests) == 1


async def test_every_failure_is_retried_with_backoff(tmp_path: Path, server: WebhookServer) -> None:
    registry = CollectorRegistry()
    server.fail_next(500, b"overloaded", times=2)
    server.fail_next(403, b"not you", times=1)  # kube retries any error, not only 5xx
    backend = webhook.build(options(f"--audit-webhook-config-file={write_kubeconfig(tmp_path / 'k', server)}",
                                    "--audit-webhook-initial-backoff=10ms"), registry)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        backend.process_events(events(1, 2))
        await backend.shutdown()
    assert posted(server) == [["id-1", "id-2"]] * 4
    assert errors(registry, "webhook") == 0


async def test_any_2xx_answer_is_delivered_whatever_its_body(tmp_path: Path, server: WebhookServer) -> None:
    registry = CollectorRegistry()
    server.handle = lambda path, body: b"<html>ok</html>"  # kube reads no answer from an audit sink
    backend = webhook.build(options(f"--audit-webhook-config-file={write_kubeconfig(tmp_path / 'k', server)}",
                                    "--audit-webhook-initial-backoff=10ms"), registry)
    backend.process_events(events(1))
    await backend.shutdown()
    assert len(server.requests) == 1 and errors(registry, "webhook") == 0


async def test_a_batch_failing_five_times_is_counted(tmp_path: Path, server: WebhookServer) -> None:
    registry = CollectorRegistry()
    server.fail_next(503, b"down", times=5)
    backend = webhook.build(options(f"--audit-webhook-config-file={write_kubeconfig(tmp_path / 'k', server)}",
                                    "--audit-webhook-initial-backoff=10ms"), registry)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        backend.process_events(events(1, 2, 3))
        await backend.shutdown()
    assert len(server.requests) == 5
    assert errors(registry, "webhook") == 3


async def test_an_unreachable_webhook_is_counted(tmp_path: Path, server: WebhookServer) -> None:
    registry = CollectorRegistry()
    path = write_kubeconfig(tmp_path / "k", server)
    server.stop()
    backend = webhook.build(options(f"--audit-webhook-config-file={path}",
                                    "--audit-webhook-initial-backoff=1ms"), registry)
    backend.process_events(events(1))
    await backend.shutdown()  # never ran: shutdown sends what is buffered itself
    assert errors(registry, "webhook") == 1


async def test_a_webhook_taking_5s_a_batch_does_not_hold_process_events(tmp_path: Path,
                                                                        server: WebhookServer) -> None:
    """Structural: while the webhook holds a POST, process_events keeps returning True and the
    batcher keeps sending (the sends are concurrent tasks); shutdown is bounded and counts."""
    registry = CollectorRegistry()
    answered = threading.Event()
    server.delay = 5

    def handle(path: str, body: Any) -> Any:
        answered.set()
        return {}

    server.handle = handle
    backend = webhook.build(options(f"--audit-webhook-config-file={write_kubeconfig(tmp_path / 'k', server)}",
                                    "--audit-webhook-batch-max-size=1"), registry, shutdown_timeout=1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        assert backend.process_events(events(0)) is True
        await wait_for(lambda: len(server.requests) == 1)
        for i in range(1, 6):
            assert backend.process_events(events(i)) is True
        assert not answered.is_set()  # every call returned while the first POST was held
        await wait_for(lambda: len(server.requests) == 6)  # the others went out meanwhile
        assert not answered.is_set()
        await backend.shutdown()
    assert errors(registry, "webhook") == 6  # cancelled after the 1 s bound
    assert errors(registry, "buffered") == 0


async def test_blocking_mode_posts_each_call(tmp_path: Path, server: WebhookServer) -> None:
    backend = webhook.build(options(f"--audit-webhook-config-file={write_kubeconfig(tmp_path / 'k', server)}",
                                    "--audit-webhook-mode=blocking-strict"))
    assert isinstance(backend, UnbatchedBackend)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        backend.process_events(events(1, 2))
        assert await backend.deliver(events(3)) is True
        await backend.shutdown()
    assert sorted(posted(server)) == [["id-1", "id-2"], ["id-3"]]


def test_the_flags_defaults_are_kubes() -> None:
    parsed = options()
    assert (parsed.audit_webhook_config_file, parsed.audit_webhook_initial_backoff,
            parsed.audit_webhook_version, parsed.audit_webhook_mode) == ("", 10.0, "audit.k8s.io/v1", "batch")
    assert (parsed.audit_webhook_batch_buffer_size, parsed.audit_webhook_batch_max_size,
            parsed.audit_webhook_batch_max_wait, parsed.audit_webhook_batch_throttle_enable,
            parsed.audit_webhook_batch_throttle_qps, parsed.audit_webhook_batch_throttle_burst) == \
        (10000, 400, 30.0, True, 10.0, 15)


def test_the_deprecated_initial_backoff_flag_still_works(tmp_path: Path, server: WebhookServer) -> None:
    path = write_kubeconfig(tmp_path / "k", server)
    backend = webhook.build(options(f"--audit-webhook-config-file={path}", "--audit-webhook-batch-initial-backoff=3s"))
    assert backend.delegate.webhook.backoff.duration == 3.0
    backend = webhook.build(options(f"--audit-webhook-config-file={path}", "--audit-webhook-initial-backoff=2s",
                                    "--audit-webhook-batch-initial-backoff=3s"))
    assert backend.delegate.webhook.backoff.duration == 2.0


@pytest.mark.parametrize(("argv", "message"), [
    (["--audit-webhook-mode=sometimes"],
     'invalid audit webhook mode sometimes, allowed modes are "batch,blocking,blocking-strict"'),
    (["--audit-webhook-batch-buffer-size=0"], "invalid audit batch webhook buffer size 0, must be a positive number"),
    (["--audit-webhook-batch-max-size=-1"], "invalid audit batch webhook max batch size -1, must be a positive number"),
    (["--audit-webhook-batch-throttle-qps=0"], "invalid audit batch webhook throttle QPS 0, must be a positive number"),
    (["--audit-webhook-batch-throttle-burst=0"], "invalid audit batch webhook throttle burst 0, must be a positive number"),
    (["--audit-webhook-version=audit.k8s.io/v1beta1"],
     'invalid group version, allowed versions are ["audit.k8s.io/v1"]'),
    (["--audit-webhook-version=a/b/c"], "unexpected GroupVersion string: a/b/c"),
])
def test_flag_validation_has_kubes_messages(tmp_path: Path, server: WebhookServer, argv: list[str],
                                            message: str) -> None:
    path = write_kubeconfig(tmp_path / "k", server)
    assert webhook.webhook_option_errors(options(f"--audit-webhook-config-file={path}", *argv)) == [message]


def test_batch_values_are_not_checked_outside_batch_mode_nor_without_a_config_file(
        tmp_path: Path, server: WebhookServer) -> None:
    path = write_kubeconfig(tmp_path / "k", server)
    assert webhook.webhook_option_errors(options(f"--audit-webhook-config-file={path}", "--audit-webhook-mode=blocking",
                                                 "--audit-webhook-batch-buffer-size=0")) == []
    assert webhook.webhook_option_errors(options("--audit-webhook-batch-throttle-qps=0",
                                                 "--audit-webhook-mode=sometimes")) == []
    assert webhook.webhook_option_errors(options(f"--audit-webhook-config-file={path}",
                                                 "--audit-webhook-batch-throttle-enable=false",
                                                 "--audit-webhook-batch-throttle-qps=0")) == []


def test_a_bad_kubeconfig_fails_validation(tmp_path: Path) -> None:
    (errors_,) = webhook.webhook_option_errors(options(f"--audit-webhook-config-file={tmp_path / 'missing'}"))
    assert errors_.startswith(f"initializing audit webhook: {tmp_path / 'missing'}: No such file")


def test_no_config_file_no_backend(tmp_path: Path, server: WebhookServer) -> None:
    registry = CollectorRegistry()
    context = SimpleNamespace(options=options(), metrics=SimpleNamespace(registry=registry),
                              logger=logging.getLogger)
    assert webhook.webhook_backend(context) is None
    context.options = options(f"--audit-webhook-config-file={write_kubeconfig(tmp_path / 'k', server)}")
    backend = webhook.webhook_backend(context)
    assert isinstance(backend, BufferedBackend) and backend.name == "webhook"
    backend.errors.labels("webhook").inc()
    assert errors(registry, "webhook") == 1  # counted on the server's registry
