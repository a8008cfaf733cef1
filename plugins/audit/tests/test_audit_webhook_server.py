"""The audit webhook backend in a real ``kernel serve``: events of real requests arrive as
EventLists, a webhook holding its POSTs 5 s does not hold requests, and SIGTERM flushes."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


from kernel.testing import KernelProcess, start_kernel
from kernel_webhook.testing import WebhookServer

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: Metadata
"""


def kubeconfig(path: Path, server: WebhookServer) -> str:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "sink",
        "clusters": [{"name": "sink", "cluster": {
            "server": server.url("/audit"),
            "certificate-authority-data": base64.b64encode(server.ca_pem).decode()}}],
        "users": [{"name": "apiserver", "user": {"token": "sink-token"}}],
        "contexts": [{"name": "sink", "context": {"cluster": "sink", "user": "apiserver"}}]}))
    return str(path)


def start(tmp_path: Path, server: WebhookServer, *args: str) -> KernelProcess:
    (tmp_path / "policy.yaml").write_text(POLICY)
    return start_kernel(tmp_path / "kernel", f"--audit-policy-file={tmp_path / 'policy.yaml'}",
                        f"--audit-webhook-config-file={kubeconfig(tmp_path / 'sink.kubeconfig', server)}",
                        *args)


def received(server: WebhookServer) -> list[dict[str, Any]]:
    return [event for _, _, body in list(server.requests) for event in body["items"]]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_events_of_real_requests_arrive_as_event_lists(tmp_path: Path) -> None:
    with WebhookServer() as server:
        server.handle = lambda path, body: {}
        kernel = start(tmp_path, server, "--audit-webhook-batch-max-wait=200ms")
        try:
            kernel.kubectl("create", "configmap", "audited", "--from-literal=a=b")
            with kernel.client() as client:
                audit_id = client.get("/api/v1/namespaces/default/configmaps/audited").headers["Audit-Id"]
            wait_for(lambda: any(e["auditID"] == audit_id for e in received(server)))
        finally:
            kernel.stop()
        path, headers, body = server.requests[0]
        assert (path, headers["Authorization"]) == ("/audit", "Bearer sink-token")
        assert (body["kind"], body["apiVersion"]) == ("EventList", "audit.k8s.io/v1")
        (get,) = [e for e in received(server) if e["auditID"] == audit_id]
        assert (get["verb"], get["stage"], get["level"]) == ("get", "ResponseComplete", "Metadata")
        assert get["objectRef"]["name"] == "audited"
        assert any(e["verb"] == "create" and e.get("objectRef", {}).get("name") == "audited"
                   for e in received(server))


def test_a_webhook_holding_posts_5s_does_not_hold_requests_and_sigterm_flushes(tmp_path: Path) -> None:
    answered = threading.Event()
    with WebhookServer() as server:
        server.delay = 5

        def handle(path: str, body: Any) -> Any:
            answered.set()
            return {}

        server.handle = handle
        # batches every 100 ms (the bootstrap's ~400 events in one or two): several POSTs held
        kernel = start(tmp_path, server, "--audit-webhook-batch-max-wait=100ms")
        try:
            with kernel.client() as client:
                client.get("/api/v1/namespaces")
                wait_for(lambda: len(server.requests) >= 1)  # a POST is held by the webhook
                ids = []
                for _ in range(10):
                    ids += [client.get("/api/v1/namespaces/default").headers["Audit-Id"] for _ in range(2)]
                    time.sleep(0.05)  # a next batch goes out and is held too
                assert not answered.is_set()  # 20 requests answered while the webhook held its POSTs
                assert len(server.requests) >= 3
        finally:
            assert kernel.stop(timeout=60) == 0
        assert set(ids) <= {e["auditID"] for e in received(server)}  # sent by shutdown at the latest
