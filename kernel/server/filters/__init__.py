"""The request pipeline, one filter per module, composed by :func:`build_handler_chain`.

Each filter wraps the next handler; the chain runs in kube-apiserver's order:
audit init (Audit-Id) → HTTP log → panic recovery → request info → wait group (graceful drain)
→ authentication → audit (when a policy and a backend are configured) → impersonation → max in flight → authorization → request metrics → timeout → the API handler.
The HTTP log sits outside panic recovery (kube has it inside) so a 500 is logged with its status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from kernel.server.filters.authentication import unauthorized, with_authentication
from kernel.server.filters.audit import with_audit, with_failed_authentication_audit
from kernel.server.filters.auditid import with_audit_init
from kernel.server.filters.authorization import with_authorization
from kernel.server.filters.httplog import with_http_logging
from kernel.server.filters.impersonation import with_impersonation
from kernel.server.filters.instrument import with_request_metrics
from kernel.server.filters.maxinflight import with_max_in_flight_limit
from kernel.server.filters.recovery import with_panic_recovery
from kernel.server.filters.requestinfo import with_request_info
from kernel.server.filters.timeout import with_timeout_for_non_long_running_requests
from kernel.server.filters.waitgroup import with_wait_group

if TYPE_CHECKING:
    from kernel.audit import PolicyRuleEvaluator, Union
    from kernel.audit.metrics import AuditMetrics
    from kernel.authentication import AuthenticatorChain
    from kernel.authorization import AuthorizerChain
    from kernel.endpoints.request import Handler
    from kernel.server.lifecycle import LifecycleSignals, WaitGroup
    from kernel.server.metrics import Metrics
    from kernel.server.options import Options


class ChainConfig(Protocol):
    """What the chain is built from (kube's server Config; the APIServer provides it)."""

    options: Options
    metrics: Metrics
    authenticator: AuthenticatorChain
    authorizer: AuthorizerChain
    in_flight: WaitGroup
    signals: LifecycleSignals
    audit_sink: Union | None  # every configured audit backend; None when auditing is off
    audit_policy: PolicyRuleEvaluator | None
    audit_metrics: AuditMetrics | None


def build_handler_chain(api_handler: Handler, server: ChainConfig) -> Handler:
    """DefaultBuildHandlerChain: wrap the API handler, innermost filter first."""
    options = server.options
    handler = with_timeout_for_non_long_running_requests(api_handler, options.request_timeout)
    handler = with_request_metrics(handler, server.metrics)
    handler = with_authorization(handler, server.authorizer)
    handler = with_max_in_flight_limit(handler, options.max_requests_inflight,
                                       options.max_mutating_requests_inflight, server.metrics)
    handler = with_impersonation(handler, server.authorizer)
    failed = unauthorized
    if server.audit_sink is not None and server.audit_policy is not None:
        handler = with_audit(handler, server.audit_sink, server.audit_policy, server.audit_metrics)
        failed = with_failed_authentication_audit(failed, server.audit_sink, server.audit_policy,
                                                  server.audit_metrics)
    handler = with_authentication(handler, server.authenticator, failed)
    handler = with_wait_group(handler, server.in_flight, server.signals,
                              options.shutdown_send_retry_after)
    handler = with_request_info(handler)
    handler = with_panic_recovery(handler)
    handler = with_http_logging(handler)
    return with_audit_init(handler)
