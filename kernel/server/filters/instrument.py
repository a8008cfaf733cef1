"""Request metrics where kube records them: around the handler, once authorization allowed it.

kube instruments each route (``InstrumentRouteFunc``), so ``apiserver_request_total`` and
``apiserver_request_duration_seconds`` count what reached a handler (its own errors and 504
timeouts included) plus requests max-in-flight dropped with 429 (:func:`record_dropped`);
401 and 403 answers are not counted, nor paths no handler serves (kube's NotFound handler is not
instrumented, and a label set per made-up path would grow without bound). Watches and other
long-running requests count in ``apiserver_longrunning_requests`` while they run, and in the
request metrics when they end.
"""

from __future__ import annotations

import time

from kernel.server.metrics import COMPONENT, Metrics, clean_dry_run, clean_scope, reported_verb
from kernel.endpoints.request import Handler, Request


def _labels(request: Request) -> tuple[str, ...]:
    """(verb, dry_run, group, version, resource, subresource, scope, component)."""
    scope = clean_scope(request)
    verb = reported_verb(request, scope)
    info = request.info
    if info is not None and info.is_resource_request:
        return (verb, clean_dry_run(request), info.api_group, info.api_version, info.resource,
                info.subresource, scope, COMPONENT)
    # Non-resource requests (/healthz, /version, discovery) carry their path as subresource.
    return (verb, "", "", "", "", request.path, scope, COMPONENT)


def record_dropped(metrics: Metrics, request: Request, code: int = 429) -> None:
    """RecordDroppedRequest: a request refused before its handler still counts, with its code."""
    metrics.observe_request(_labels(request), code, 0.0)


def with_request_metrics(handler: Handler, metrics: Metrics) -> Handler:
    async def request_metrics(request: Request) -> None:
        info = request.info
        if info is not None and info.is_long_running:
            labels = _labels(request)
            gauge = metrics.longrunning.labels(labels[0], *labels[2:])  # no dry_run label
            gauge.inc()
            try:
                await handler(request)
            finally:
                gauge.dec()
                if request.status and not request.unrouted:
                    metrics.observe_request(labels, request.status, time.perf_counter() - request.received)
            return
        await handler(request)
        if request.status and not request.unrouted:
            metrics.observe_request(_labels(request), request.status, time.perf_counter() - request.received)

    return request_metrics
