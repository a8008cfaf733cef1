"""kube's audit metrics (k8s.io/apiserver/pkg/audit/metrics.go) on a server's registry.

The kernel counts events, policy levels and rejected requests; a backend counts the events it
failed to deliver with ``AuditMetrics.of(context.metrics.registry).plugin_error(name, count)``.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from kernel.audit import Level

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, AuditMetrics] = weakref.WeakKeyDictionary()


class AuditMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # Imported here: built only when auditing is on (prometheus_client is not imported by an
        # idle server otherwise; see kernel.server.metricvec).
        from prometheus_client import Counter
        self.events = Counter("apiserver_audit_event",
                              "Counter of audit events generated and sent to the audit backend.",
                              registry=registry)
        self.errors = Counter("apiserver_audit_error",
                              "Counter of audit events that failed to be audited properly. Plugin "
                              "identifies the plugin affected by the error.", ("plugin",),
                              registry=registry)
        levels = Counter("apiserver_audit_level",
                         "Counter of policy levels for audit events (1 per request).", ("level",),
                         registry=registry)
        self.rejected = Counter("apiserver_audit_requests_rejected",
                                "Counter of apiserver requests rejected due to an error in audit "
                                "logging backend.", registry=registry)
        self.level_counters = {level: levels.labels(level) for level in Level.ORDER}

    @classmethod
    def of(cls, registry: CollectorRegistry) -> AuditMetrics:
        """The metrics on ``registry``, registered the first time."""
        found = _BY_REGISTRY.get(registry)
        if found is None:
            found = _BY_REGISTRY[registry] = cls(registry)
        return found

    def plugin_error(self, plugin: str, count: int = 1) -> None:
        """HandlePluginError's count: ``count`` events a backend could not deliver (thread-safe)."""
        self.errors.labels(plugin).inc(count)
