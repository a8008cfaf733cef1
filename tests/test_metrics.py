"""/metrics: kube's apiserver_* metrics in the Prometheus text format, parsed with
prometheus_client's parser, moving with the requests made; authorized as a non-resource URL."""

from __future__ import annotations

import threading
import time

import trio
from conftest import plugin_env
from prometheus_client import Counter
from prometheus_client.parser import text_string_to_metric_families

KUBE_DURATION_BUCKETS = ["0.005", "0.025", "0.05", "0.1", "0.2", "0.4", "0.6", "0.8", "1.0", "1.25",
                         "1.5", "2.0", "3.0", "4.0", "5.0", "6.0", "8.0", "10.0", "15.0", "20.0",
                         "30.0", "45.0", "60.0", "+Inf"]


class Scrape:
    """One parsed /metrics answer: ``value(sample name, **labels)`` sums the matching samples."""

    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = [s for f in self.families.values() for s in f.samples]

    def value(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.samples
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


async def scrape(client) -> Scrape:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return Scrape(response.text)


CM = {"group": "", "version": "v1", "resource": "configmaps", "component": "apiserver"}


async def test_request_and_storage_metrics_move_with_requests(api):
    client = api.client
    await api.namespace("obs")
    before = await scrape(client)
    await api.configmap("obs", "one", {"a": "1"})
    assert (await client.get("/api/v1/namespaces/obs/configmaps/one")).status_code == 200
    assert (await client.get("/api/v1/namespaces/obs/configmaps/nope")).status_code == 404
    assert (await client.get("/api/v1/namespaces/obs/configmaps")).status_code == 200
    assert (await client.get("/api/v1/configmaps")).status_code == 200
    assert (await client.post("/api/v1/namespaces/obs/configmaps?dryRun=All",
                              json={"metadata": {"name": "dry"}})).status_code == 201
    applied = await client.patch(
        "/api/v1/namespaces/obs/configmaps/two?fieldManager=test",
        content='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"two"}}',
        headers={"Content-Type": "application/apply-patch+yaml"})
    applied_code = str(applied.status_code)  # 201, or 415 while apply is not served
    assert (await client.patch("/api/v1/namespaces/obs/configmaps/one", json={"data": {"b": "2"}},
                               headers={"Content-Type": "application/merge-patch+json"})
            ).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.get("/not/served")).status_code == 404
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    total = "apiserver_request_total"
    assert moved(total, verb="POST", scope="resource", code="201", dry_run="", **CM) == 1
    assert moved(total, verb="POST", scope="resource", code="201", dry_run="All", **CM) == 1
    assert moved(total, verb="GET", scope="resource", code="200", **CM) == 1
    assert moved(total, verb="GET", scope="resource", code="404", **CM) == 1
    assert moved(total, verb="LIST", scope="namespace", code="200", **CM) == 1
    assert moved(total, verb="LIST", scope="cluster", code="200", **CM) == 1
    assert moved(total, verb="APPLY", scope="resource", code=applied_code, **CM) == 1
    assert moved(total, verb="PATCH", scope="resource", code="200", **CM) == 1
    assert moved(total, verb="GET", subresource="/readyz", code="200", scope="", resource="") == 1
    assert moved(total, subresource="/not/served") == 0  # unrouted paths add no series
    assert moved(total) == 9 + 1  # and the first scrape (/metrics is counted like /readyz)

    duration = "apiserver_request_duration_seconds"
    assert moved(f"{duration}_count", verb="LIST", **CM) == 2
    assert moved(f"{duration}_sum", verb="LIST", **CM) > 0
    buckets = [s.labels["le"] for s in after.samples if s.name == f"{duration}_bucket"
               and s.labels["verb"] == "LIST" and s.labels["scope"] == "cluster"
               and all(s.labels[k] == v for k, v in CM.items())]  # controllers list other kinds
    assert buckets == KUBE_DURATION_BUCKETS
    assert after.families[duration].type == "histogram"

    created = 2 if applied_code == "201" else 1  # "two" by apply; never the dry run
    assert moved("apiserver_storage_objects", resource="configmaps") == created
    assert after.value("apiserver_storage_objects", resource="namespaces") >= 5
    storage = "apiserver_storage_request_duration_seconds_count"
    assert moved(storage, backend="memory", operation="create", type="configmaps") == created
    assert moved(storage, backend="memory", operation="get", type="configmaps") >= 2
    assert moved(storage, backend="memory", operation="update", type="configmaps") >= 1  # patch
    assert after.value("apiserver_current_inflight_requests", request_kind="readOnly") >= 0
    assert {"readOnly", "mutating"} <= {s.labels.get("request_kind") for s in after.samples
                                        if s.name == "apiserver_current_inflight_requests"}
    assert after.value("process_cpu_seconds_total") > 0
    assert after.value("process_resident_memory_bytes") > 0


async def test_long_running_requests_gauge_and_watch_count(api):
    client = api.client
    await api.namespace("w")
    watching = {"verb": "WATCH", "resource": "configmaps", "scope": "namespace",
                "component": "apiserver"}
    async with client.stream("GET", "/api/v1/namespaces/w/configmaps?watch=1") as response:
        assert response.status_code == 200
        during = await scrape(client)
        assert during.value("apiserver_longrunning_requests", **watching) == 1
        assert during.value("apiserver_request_total", **watching) == 0  # counted when it ends
    with trio.fail_after(10):
        while (now := await scrape(client)).value("apiserver_longrunning_requests", **watching):
            await trio.sleep(0.02)
    assert now.value("apiserver_request_total", code="200", **watching) == 1


async def test_each_server_has_its_own_registry_and_plugins_can_add_metrics(start_api):
    first, second = await start_api(), await start_api()
    things = Counter("plugin_things_total", "Things a plugin did.",
                     registry=first.server.metrics.registry)
    things.inc(3)
    assert (await scrape(first.client)).value("plugin_things_total") == 3
    assert "plugin_things_total" not in (await scrape(second.client)).families
    # The other server's requests never show up here (its own bootstrap POSTs, through the
    # loopback client, do: they are counted like any request).
    posts = (await scrape(first.client)).value("apiserver_request_total", verb="POST")
    await second.namespace("only-second")
    assert (await scrape(first.client)).value("apiserver_request_total", verb="POST") == posts


async def test_openmetrics_when_asked(api):
    response = await api.client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


async def test_metrics_is_authorized_as_a_non_resource_url(kernel_in_process):
    kernel = await kernel_in_process("--authorization-mode=AlwaysDeny")
    async with kernel.client(token=None) as client:
        response = await client.get("/metrics")
        assert response.status_code == 403
        assert response.json()["message"] == ('forbidden: User "system:anonymous" cannot get path '
                                              '"/metrics": Everything is forbidden.')
    async with kernel.client() as admin:  # system:masters
        assert (await admin.get("/metrics")).status_code == 200


def test_plugin_authorizer_denies_metrics_and_dropped_requests_count(kernel_process,
                                                                    test_plugins_path):
    kernel = kernel_process("--plugins=test_alpha", "--storage-backend=alpha-dict",
                            "--alpha-token=alpha-secret", "--max-requests-inflight=1",
                            "--authorization-mode=AlphaDeny,AlwaysAllow",
                            env=plugin_env(test_plugins_path))
    things = "/apis/alpha.test.kernel.dev/v1/things"
    with kernel.client(token="alpha-secret") as alpha:
        denied = alpha.get("/metrics")
    assert denied.status_code == 403
    assert denied.json()["message"] == \
        'forbidden: User "alpha" cannot get path "/metrics": alpha is denied'
    assert denied.headers["audit-id"]
    with kernel.client(token=None) as anonymous, kernel.client(token=None) as other:
        slow: threading.Thread | None = None
        deadline = time.monotonic() + 30
        while True:  # a slow request holds the one slot; on a loaded machine it may take tries
            if slow is None or not slow.is_alive():
                slow = threading.Thread(target=lambda: anonymous.get(f"{things}?sleep=1"))
                slow.start()
                time.sleep(0.1)
            if (busy := other.get(things)).status_code == 429:
                break
            assert time.monotonic() < deadline
        assert busy.headers["audit-id"]
        slow.join()
    with kernel.client() as admin:
        metrics = Scrape(admin.get("/metrics").text)
    labels = {"verb": "LIST", "group": "alpha.test.kernel.dev", "version": "v1",
              "resource": "things", "scope": "cluster", "component": "apiserver"}
    assert metrics.value("apiserver_request_total", code="429", **labels) == 1  # the one seen
    assert metrics.value("apiserver_request_total", code="200", **labels) >= 1
    assert metrics.value("apiserver_request_total", code="403") == 0  # as kube: not counted
