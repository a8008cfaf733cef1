"""--event-ttl with real servers: an Event disappears after its TTL, on sqlite and on memory."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kernel.testing import start_kernel

EVENT = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
         "involvedObject": {"kind": "ConfigMap", "namespace": "default", "name": "x"},
         "reason": "Tested", "message": "expires", "type": "Normal"}
EVENTS = "/api/v1/namespaces/default/events"


@pytest.mark.parametrize("backend", ["sqlite", "memory"])
def test_an_event_expires_after_event_ttl(tmp_path: Path, backend: str) -> None:
    kernel = start_kernel(tmp_path, f"--plugins=api_core,storage_{backend}", "--event-ttl=2s")
    try:
        with kernel.client() as client:
            assert client.post(EVENTS, json=EVENT).status_code == 201
            assert client.post("/api/v1/namespaces/default/configmaps",
                               json={"metadata": {"name": "kept"}}).status_code == 201
            time.sleep(1)
            assert client.get(f"{EVENTS}/e1").status_code == 200  # not before its TTL
            deadline = time.monotonic() + 10
            while client.get(f"{EVENTS}/e1").status_code != 404:
                assert time.monotonic() < deadline, "the event never expired"
                time.sleep(0.2)
            assert client.get(EVENTS).json()["items"] == []
            # other resources have no TTL
            assert client.get("/api/v1/namespaces/default/configmaps/kept").status_code == 200
    finally:
        assert kernel.stop() == 0


def test_an_events_k8s_io_event_expires_too(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path, "--plugins=api_core,api_events,storage_sqlite", "--event-ttl=1s")
    path = "/apis/events.k8s.io/v1/namespaces/default/events"
    try:
        with kernel.client() as client:
            response = client.post(path, json={
                "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e2"},
                "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "test/x",
                "reportingInstance": "x-1", "action": "Test", "reason": "Tested", "type": "Normal",
                "regarding": {"kind": "ConfigMap", "namespace": "default", "name": "x"}})
            assert response.status_code == 201, response.text
            deadline = time.monotonic() + 10
            while client.get(f"{path}/e2").status_code != 404:
                assert time.monotonic() < deadline, "the event never expired"
                time.sleep(0.2)
    finally:
        assert kernel.stop() == 0
