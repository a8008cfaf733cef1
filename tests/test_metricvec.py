"""The kernel's own metric series (kernel.server.metricvec) expose exactly what prometheus_client's
Counter, Gauge and Histogram expose for the same observations, and an assembled server has not
imported prometheus_client until its registry is first used (a scrape)."""

from __future__ import annotations

import subprocess
import sys

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from kernel.server.metrics import REQUEST_DURATION_BUCKETS, Metrics
from kernel.server.metricvec import CounterVec, GaugeVec, HistogramVec

LABELS = ("verb", "resource")
OBSERVED = [0.0, 0.005, 0.0051, 0.3, 1.0, 2, 59.9, 60, 61, 1e6, 0.1 + 0.2]


class _Families:
    def __init__(self, vecs: list) -> None:
        self.vecs = vecs

    def collect(self):
        return [vec.family() for vec in self.vecs]


def _record(counter, gauge, histogram) -> None:
    for index, seconds in enumerate(OBSERVED):
        labels = ("GET", "pods") if index % 3 else ("LIST", f"r{index % 2}")
        counter.labels(*labels).inc()
        histogram.labels(*labels).observe(seconds)
        gauge.labels(*labels).inc()
        if index % 2:
            gauge.labels(*labels).dec()
    counter.labels("WATCH", "x")  # a series created but never incremented


def test_exposition_is_prometheus_clients_own() -> None:
    Metrics().registry  # as the server does: no *_created series
    ours = [CounterVec("demo_requests", "Requests.", LABELS), GaugeVec("demo_open", "Open.", LABELS),
            HistogramVec("demo_seconds", "Latency.", LABELS, REQUEST_DURATION_BUCKETS)]
    _record(*ours)
    registry = CollectorRegistry()
    registry.register(_Families(ours))
    reference = CollectorRegistry()
    native = [Counter("demo_requests", "Requests.", LABELS, registry=reference),
              Gauge("demo_open", "Open.", LABELS, registry=reference),
              Histogram("demo_seconds", "Latency.", LABELS, buckets=REQUEST_DURATION_BUCKETS,
                        registry=reference)]
    _record(*native)
    assert b'demo_seconds_bucket{le="+Inf",resource="pods",verb="GET"} 7.0' in generate_latest(registry)
    assert generate_latest(registry) == generate_latest(reference)
    assert generate_openmetrics(registry) == generate_openmetrics(reference)
    assert b"_created" not in generate_latest(registry)


def test_registry_keeps_the_order_collectors_were_added_in() -> None:
    metrics = Metrics()
    metrics.add_callback_gauge("demo_first", "First.", "kind", lambda: [("a", 1)])
    metrics.requests.labels("GET", "", "", "v1", "pods", "", "cluster", "apiserver", "200").inc()
    Counter("demo_plugin", "A plugin's.", registry=metrics.registry).inc()
    metrics.add_callback_gauge("demo_last", "Last.", "kind", lambda: [("b", 2)])
    text = metrics.exposition(None)[0].decode()
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    ours = ["apiserver_request_total", "apiserver_request_duration_seconds",
            "apiserver_longrunning_requests", "apiserver_storage_request_duration_seconds"]
    start = names.index(ours[0])
    assert names[start:] == [*ours, "demo_first", "demo_plugin_total", "demo_last"]
    assert names[0].startswith("process_")
    assert ('apiserver_request_total{code="200",component="apiserver",dry_run="",group="",'
            'resource="pods",scope="cluster",subresource="",verb="GET",version="v1"} 1.0') in text


def test_an_assembled_server_imports_prometheus_client_at_its_first_scrape(tmp_path) -> None:
    probe = ("import sys; from kernel.testing import assemble; "
             f"server = assemble(__import__('pathlib').Path({str(tmp_path)!r}), "
             "'--plugins=api_core,storage_memory,api_rbac,authz_rbac'); "
             "before = 'prometheus_client' in sys.modules; "
             "body = server.metrics.exposition(None)[0]; "
             "print(before, 'prometheus_client' in sys.modules, b'apiserver_storage_objects' in body)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "True"], out.stderr
