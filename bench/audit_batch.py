"""What the audit webhook backend's batching costs a request: the time of one ``process_events``
call (one Metadata-level event, as the audit stage hands over) with a delegate that answers at
once, against the same with a delegate taking 5 s per batch (trio.sleep) and with the real
webhook delegate POSTing to a local HTTPS webhook that answers after 5 s. The floor is a bare
``list.append`` of the same event, timed the same way.

Calls are paced (``--rate`` a second, in bursts of 10 with a trio checkpoint between, as
requests would be) so the throttle (10 batches/s of 400) keeps up and nothing is dropped; the
variants run side by side in one trio loop and are measured in interleaved rounds. No server is
involved: the server-level row (GET with webhook audit ÷ without) belongs to bench/audit.py.

    .venv/bin/python bench/audit_batch.py [--rounds 3] [--calls 4000] [--rate 2000]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import trio
from prometheus_client import CollectorRegistry

from kernel_audit.batch import BatchConfig, BufferedBackend
from kernel_audit.webhook import WebhookDelegate, _load_client
from kernel_webhook import GenericWebhook
from kernel_webhook.testing import WebhookServer

EVENT = {
    "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
    "auditID": "5b2f4c1e-6a43-4e0a-9a38-0c1d7c2c9f11", "stage": "ResponseComplete",
    "requestURI": "/api/v1/namespaces/default/configmaps/bench", "verb": "get",
    "user": {"username": "system:admin", "groups": ["system:masters", "system:authenticated"]},
    "sourceIPs": ["127.0.0.1"], "userAgent": "kubectl/v1.31.0 (linux/amd64) kubernetes/abcdef",
    "objectRef": {"resource": "configmaps", "namespace": "default", "name": "bench", "apiVersion": "v1"},
    "responseStatus": {"metadata": {}, "code": 200},
    "requestReceivedTimestamp": "2026-12-05T21:00:00.000000Z",
    "stageTimestamp": "2026-12-05T21:00:00.001000Z",
    "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
}


class Immediate:
    name = "immediate"

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.batches = 0

    async def send(self, events: Sequence[Any]) -> None:
        if self.pause:
            await trio.sleep(self.pause)
        self.batches += 1

    async def aclose(self) -> None:
        pass


class Counting(WebhookDelegate):
    batches = 0

    async def send(self, events: Sequence[Any]) -> None:
        await super().send(events)
        self.batches += 1


def kubeconfig(server: WebhookServer, folder: Path) -> str:
    path = folder / "audit-webhook.kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "sink",
        "clusters": [{"name": "sink", "cluster": {
            "server": server.url("/audit"),
            "certificate-authority-data": base64.b64encode(server.ca_pem).decode()}}],
        "users": [{"name": "apiserver", "user": {}}],
        "contexts": [{"name": "sink", "context": {"cluster": "sink", "user": "apiserver"}}]}))
    return str(path)


async def measure(call: Callable[[list[Any]], Any], calls: int, rate: float) -> list[int]:
    """ns of each call, paced at ``rate`` calls a second in bursts of 10."""
    events = [EVENT]
    samples: list[int] = []
    clock = time.perf_counter_ns
    burst_gap = 10 / rate
    next_burst = trio.current_time()
    for i in range(calls):
        start = clock()
        call(events)
        samples.append(clock() - start)
        if i % 10 == 9:
            next_burst += burst_gap
            await trio.sleep_until(next_burst)
    return samples


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(rounds: int, calls: int, rate: float) -> None:
    registry = CollectorRegistry()
    floor: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder, WebhookServer() as server:
        server.handle = lambda path, body: {}
        server.delay = 5
        delegates: dict[str, Any] = {
            "fast delegate": Immediate(),
            "5 s delegate (trio.sleep)": Immediate(pause=5),
            "webhook answering in 5 s": Counting(GenericWebhook(_load_client(kubeconfig(server, Path(folder))))),
        }
        backends = {name: BufferedBackend(delegate, BatchConfig(), registry, shutdown_timeout=30)
                    for name, delegate in delegates.items()}
        calls_of: dict[str, Callable[[list[Any]], Any]] = {"floor: list.append": floor.append}
        calls_of |= {name: backend.process_events for name, backend in backends.items()}
        samples: dict[str, list[int]] = {name: [] for name in calls_of}
        async with trio.open_nursery() as nursery:
            for backend in backends.values():
                nursery.start_soon(backend.run)
            for _ in range(rounds):
                for name, call in calls_of.items():
                    samples[name] += await measure(call, calls, rate)
                    floor.clear()
            in_flight = {name: (len(server.requests), delegates[name].batches) for name in backends}
            async with trio.open_nursery() as closing:
                for backend in backends.values():
                    closing.start_soon(backend.shutdown)

    fast = samples["fast delegate"]
    print(f"process_events of one event, {rounds} rounds x {calls} calls at {rate:g}/s "
          f"(batches of up to 400, throttle 10/s burst 15)")
    print(f"{'':28} {'p50 ns':>8} {'p99 ns':>8} {'max µs':>8} {'p50 ÷ fast':>11} {'p99 ÷ fast':>11}")
    for name, values in samples.items():
        print(f"{name:28} {percentile(values, 0.5):8.0f} {percentile(values, 0.99):8.0f} "
              f"{max(values) / 1000:8.1f} {percentile(values, 0.5) / percentile(fast, 0.5):11.2f} "
              f"{percentile(values, 0.99) / percentile(fast, 0.99):11.2f}")
    dropped = registry.get_sample_value("apiserver_audit_error_total", {"plugin": "buffered"}) or 0
    print(f"events dropped on a full buffer: {dropped:.0f}; mean per call over all: "
          f"{statistics.fmean(v for name in backends for v in samples[name]):.0f} ns")
    posts, _ = in_flight["webhook answering in 5 s"]
    print(f"when the measuring ended the webhook had received {posts} POSTs "
          f"(each held 5 s); the fast delegate had taken {in_flight['fast delegate'][1]} batches")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=2000.0)
    arguments = parser.parse_args()
    trio.run(main, arguments.rounds, arguments.calls, arguments.rate)
