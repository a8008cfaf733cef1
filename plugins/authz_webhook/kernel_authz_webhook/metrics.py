"""kube's webhook authorizer metrics (plugin/pkg/authorizer/webhook/metrics), on the server's
registry: every webhook of the chain shares them, labelled by its name; result is ``success``,
``timeout`` or ``error``."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a webhook is built (see kernel.server.metricvec)
    from prometheus_client import CollectorRegistry

_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, WebhookMetrics] = weakref.WeakKeyDictionary()


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        from prometheus_client import Counter, Histogram
        self.evaluations = Counter("apiserver_authorization_webhook_evaluations",
                                   "Round-trips to authorization webhooks.", ("name", "result"),
                                   registry=registry)
        self.duration = Histogram("apiserver_authorization_webhook_duration_seconds",
                                  "Request latency in seconds.", ("name", "result"), registry=registry)
        self.fail_open = Counter("apiserver_authorization_webhook_evaluations_fail_open",
                                 "NoOpinion results due to webhook timeout or error.",
                                 ("name", "result"), registry=registry)

    @classmethod
    def of(cls, registry: CollectorRegistry) -> WebhookMetrics:
        """The metrics on ``registry``, registered the first time (a reload builds webhooks again)."""
        found = _BY_REGISTRY.get(registry)
        if found is None:
            found = _BY_REGISTRY[registry] = cls(registry)
        return found

    def round_trip(self, name: str, result: str, seconds: float) -> None:
        self.evaluations.labels(name, result).inc()
        self.duration.labels(name, result).observe(seconds)

    def failed_open(self, name: str, result: str) -> None:
        self.fail_open.labels(name, result).inc()


def unregistered() -> Any:
    """Metrics on no registry, for an authorizer built outside a server (tests)."""
    return WebhookMetrics(None)
