"""Auditing (k8s.io/apiserver/pkg/audit): the contract audit plugins implement.

The kernel owns the audit *stage* of the request pipeline (``kernel.server.filters.audit``, after
authentication, before impersonation, as kube has it) and the per-request
:class:`~kernel.audit.context.AuditContext` that builds one audit.k8s.io/v1 ``Event``. Plugins
provide the two other parts:

- a **policy** (``kernel_audit_policy``): a :class:`PolicyRuleEvaluator` whose
  ``level_and_stages(attributes)`` says at which :class:`Level` a request is audited and which
  stages are left out;
- **backends** (``kernel_audit_backends``, ``{name: factory}``): each a :class:`Backend` that
  receives every event as a plain JSON-ready mapping.

With no policy or no configured backend the audit filter is not in the chain at all, so auditing
costs nothing when it is off.

A backend's ``process_events`` is called on the trio loop for each stage of each request: it must
not block (no I/O, no lock held by I/O); hand the events to a thread or a task through a bounded
queue. ``run()`` is started in the server's nursery before the server serves and does the
background work until ``shutdown()``; ``shutdown()`` is awaited once the in-flight requests have
drained and the HTTP server stopped (kube's ordering), under a bound of
:data:`SHUTDOWN_TIMEOUT` seconds for all backends, and flushes what is buffered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kernel.authorization import Attributes

API_VERSION = "audit.k8s.io/v1"
SHUTDOWN_TIMEOUT = 60.0  # seconds all backends together get to flush at shutdown


class Level:
    """How much of a request an event carries; each level includes the ones before it."""

    NONE = "None"
    METADATA = "Metadata"  # user, timestamps, resource, verb... but no request or response body
    REQUEST = "Request"  # and the request body (non-read verbs)
    REQUEST_RESPONSE = "RequestResponse"  # and the response body

    ORDER = {NONE: 0, METADATA: 1, REQUEST: 2, REQUEST_RESPONSE: 3}

    @classmethod
    def less(cls, level: str, other: str) -> bool:
        """``level`` records less than ``other`` (kube's Level.Less)."""
        return cls.ORDER[level] < cls.ORDER[other]


class Stage:
    """The points of a request's life an event is emitted at."""

    REQUEST_RECEIVED = "RequestReceived"  # as soon as the audit stage sees the request
    RESPONSE_STARTED = "ResponseStarted"  # headers sent, body not yet (long-running requests only)
    RESPONSE_COMPLETE = "ResponseComplete"  # the response is complete
    PANIC = "Panic"  # the handler raised

    ALL = (REQUEST_RECEIVED, RESPONSE_STARTED, RESPONSE_COMPLETE, PANIC)


class RequestAuditConfig(NamedTuple):
    """The policy's answer for one request (kube's RequestAuditConfig)."""

    level: str
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False


NOT_AUDITED = RequestAuditConfig(Level.NONE)


@runtime_checkable
class PolicyRuleEvaluator(Protocol):
    """kube's PolicyRuleEvaluator: the audit level and omitted stages of a request.

    ``attributes`` are the request's authorization attributes with the *authenticated* user
    (auditing runs before impersonation); for a request that failed authentication its user is
    ``None``.
    """

    def level_and_stages(self, attributes: Attributes) -> RequestAuditConfig: ...


@runtime_checkable
class Backend(Protocol):
    """Where audit events go (kube's audit.Backend).

    ``process_events`` gets events as plain mappings (an audit.k8s.io/v1 ``Event`` each, ready
    for ``msgspec.json.encode``), never blocks, and returns True when it accepted them: kube's
    backends return True even when they drop an event on a full buffer (and count the drop); a
    False makes the request fail with a 500 at its RequestReceived stage, as in kube. The events
    are the caller's snapshots: the backend may keep them without copying, and must not change them.
    """

    name: str

    def process_events(self, events: Sequence[Mapping[str, Any]]) -> bool: ...

    async def run(self) -> None:
        """Background work (writing, sending batches) until :meth:`shutdown`; started once,
        in the server's nursery, before the server serves."""

    async def shutdown(self) -> None:
        """Deliver what is buffered and stop; bounded in time (the kernel also cancels it after
        :data:`SHUTDOWN_TIMEOUT`)."""


class Union:
    """Several backends as one (kube's union backend): every event goes to each.

    ``observe`` is called with the number of events handed on (apiserver_audit_event_total)."""

    def __init__(self, backends: Sequence[Backend], observe: Any = None) -> None:
        self.backends = tuple(backends)
        self.name = "union[" + ",".join(b.name for b in self.backends) + "]"
        self._observe = observe

    def process_events(self, events: Sequence[Mapping[str, Any]]) -> bool:
        if self._observe is not None:
            self._observe(len(events))
        accepted = True
        for backend in self.backends:
            accepted = backend.process_events(events) and accepted
        return accepted


__all__ = ["API_VERSION", "SHUTDOWN_TIMEOUT", "Backend", "Level", "NOT_AUDITED", "PolicyRuleEvaluator",
           "RequestAuditConfig", "Stage", "Union"]
