"""The server's metrics registry and kube-apiserver's metric definitions, served at ``/metrics``.

Names, labels and buckets follow k8s.io/apiserver/pkg/endpoints/metrics (``apiserver_request_*``,
``apiserver_longrunning_requests``, ``apiserver_current_inflight_requests``) and the storage
metrics (``apiserver_storage_objects``); ``process_*`` come from prometheus_client's
ProcessCollector. Each server has its own :class:`Metrics` (several in-process servers share a
test process, so nothing goes on prometheus_client's global REGISTRY); a plugin registers its
own collectors on ``metrics.registry``::

    Counter("myplugin_things_total", "Things done.", registry=context.metrics.registry)

Values that already live in memory (in-flight counts, objects per watch cache) are read by
collectors at scrape time, so they cost nothing per request.

prometheus_client is imported by the first scrape or the first use of ``registry``, not at
startup (see :mod:`kernel.server.metricvec` for why): the kernel's own series are recorded in
plain Python and exported as metric families; the registry is built then, with the collectors
in the order they were added, so ``/metrics`` reads as if it had existed from the start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from kernel.server.metricvec import CounterVec, GaugeVec, HistogramVec

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

    from kernel.endpoints.request import Request

COMPONENT = "apiserver"  # the ``component`` label of the kernel's own requests

# apiserver_request_duration_seconds' buckets (kube's, chosen for its latency SLOs); the etcd
# request histogram uses the same ones.
REQUEST_DURATION_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3,
                            4, 5, 6, 8, 10, 15, 20, 30, 45, 60)

# Verbs reported as they are; anything else is "other" (bounded label values, as kube does).
VALID_VERBS = frozenset({"APPLY", "CONNECT", "CREATE", "DELETE", "DELETECOLLECTION", "GET", "LIST",
                         "PATCH", "POST", "PROXY", "PUT", "UPDATE", "WATCH", "WATCHLIST"})
CONNECT_SUBRESOURCES = frozenset({"log", "exec", "portforward", "attach", "proxy"})
APPLY_PATCH = "application/apply-patch+yaml"

REQUEST_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope",
                  "component")


def clean_scope(request: Request) -> str:
    """metrics.CleanScope: resource, namespace, cluster, or "" for non-resource requests."""
    info = request.info
    if info is None:
        return ""
    if info.name or info.verb == "create":
        return "resource"
    if info.namespace:
        return "namespace"
    return "cluster" if info.is_resource_request else ""


def reported_verb(request: Request, scope: str) -> str:
    """kube's NormalizedVerb: the method upper-cased, GET on a collection as LIST, then WATCH,
    APPLY and CONNECT told apart; unknown methods are "other"."""
    method = request.method
    verb = ("LIST" if scope not in ("resource", "") else "GET") if method in ("GET", "HEAD") \
        else method
    info = request.info
    if info is not None and info.verb == "watch":
        verb = "WATCH"  # ?watch=true, and the legacy /watch/ paths kube's installer marks WATCH
    elif method == "PATCH" and request.headers.get("content-type", "").split(";")[0] == APPLY_PATCH:
        verb = "APPLY"
    if info is not None and info.is_resource_request and info.subresource in CONNECT_SUBRESOURCES:
        verb = "CONNECT"
    return verb if verb in VALID_VERBS else "other"


def clean_dry_run(request: Request) -> str:
    """The dry_run label: "" without ``dryRun``, the sorted distinct values, or "invalid"."""
    if b"dryRun" not in request.scope["query_string"]:  # the common case: no parsing
        return ""
    values = request.query.get("dryRun", [])
    if any(value != "All" for value in values):
        return "invalid"
    return ",".join(sorted(set(values)))


class _CallbackGauges:
    """A labelled gauge whose samples a function returns at scrape time."""

    def __init__(self, name: str, documentation: str, label: str,
                 samples: Callable[[], Iterable[tuple[str, float]]]) -> None:
        self.name, self.documentation, self.label, self.samples = name, documentation, label, samples

    def describe(self) -> list[Metric]:
        from prometheus_client.core import GaugeMetricFamily
        return [GaugeMetricFamily(self.name, self.documentation, labels=[self.label])]

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily
        family = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        for value, sample in self.samples():
            family.add_metric([value], sample)
        yield family


class _Series:
    """The kernel's own series as one collector, read at scrape time."""

    def __init__(self, vecs: list[CounterVec | GaugeVec | HistogramVec]) -> None:
        self.vecs = vecs

    def describe(self) -> list[Metric]:  # the names, so a plugin cannot register them again
        return [vec.family() for vec in self.vecs]

    def collect(self) -> Iterator[Metric]:
        for vec in self.vecs:
            yield vec.family()


class Metrics:
    """A server's registry with the kernel's metrics on it."""

    def __init__(self) -> None:
        self._registry: CollectorRegistry | None = None
        self._pending: list[Any] = []  # collectors added before the registry was built
        self.requests = CounterVec(
            "apiserver_request", "Counter of apiserver requests broken out for each verb, dry run "
            "value, group, version, resource, scope, component, and HTTP response code.",
            [*REQUEST_LABELS, "code"])
        self.request_duration = HistogramVec(
            "apiserver_request_duration_seconds", "Response latency distribution in seconds for "
            "each verb, dry run value, group, version, resource, subresource, scope and component.",
            REQUEST_LABELS, buckets=REQUEST_DURATION_BUCKETS)
        self.longrunning = GaugeVec(
            "apiserver_longrunning_requests", "Gauge of all active long-running apiserver requests "
            "broken out by verb, group, version, resource, scope and component. Not all requests "
            "are tracked this way.",
            ("verb", "group", "version", "resource", "subresource", "scope", "component"))
        self.storage_duration = HistogramVec(
            "apiserver_storage_request_duration_seconds", "Storage backend request latency in "
            "seconds for each backend, operation and resource (kube's etcd_request_duration_seconds "
            "for every backend).", ("backend", "operation", "type"),
            buckets=REQUEST_DURATION_BUCKETS)
        # Label tuple -> (counter series by code, histogram series).
        self._request_children: dict[tuple[str, ...], tuple[Any, Any]] = {}

    @property
    def registry(self) -> CollectorRegistry:
        """The prometheus_client registry /metrics serves, built on first use."""
        registry = self._registry
        if registry is None:
            from prometheus_client import (
                CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector,
                disable_created_metrics,
            )
            # kube has no ``*_created`` series; without them /metrics is half the size. (A
            # process-wide switch of prometheus_client: the kernel owns its process.)
            disable_created_metrics()
            registry = CollectorRegistry()
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
            registry.register(_Series([self.requests, self.request_duration, self.longrunning,
                                       self.storage_duration]))
            for collector in self._pending:
                registry.register(collector)
            self._pending.clear()
            self._registry = registry
        return registry

    def observe_request(self, labels: tuple[str, ...], code: int, seconds: float) -> None:
        children = self._request_children.get(labels)
        if children is None:
            children = self._request_children[labels] = (
                {}, self.request_duration.labels(*labels))
        counters = children[0]
        counter = counters.get(code)
        if counter is None:
            counter = counters[code] = self.requests.labels(*labels, str(code))
        counter.inc()
        children[1].observe(seconds)

    def add_callback_gauge(self, name: str, documentation: str, label: str,
                           samples: Callable[[], Iterable[tuple[str, float]]]) -> None:
        """Register a gauge read at scrape time: ``samples()`` yields (label value, value)."""
        gauge = _CallbackGauges(name, documentation, label, samples)
        if self._registry is None:
            self._pending.append(gauge)
        else:
            self._registry.register(gauge)

    def storage_timer(self, backend: str, resource: str) -> Callable[[str], Any]:
        """``observe = timer(operation)`` children of the storage histogram for one resource."""
        children: dict[str, Any] = {}

        def child(operation: str) -> Any:
            found = children.get(operation)
            if found is None:
                found = children[operation] = self.storage_duration.labels(backend, operation,
                                                                            resource)
            return found
        return child

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format the Accept header asks for (Prometheus text by default,
        OpenMetrics when asked)."""
        registry = self.registry
        from prometheus_client.exposition import choose_encoder
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type
