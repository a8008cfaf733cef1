"""WithAudit and WithFailedAuthenticationAudit: one audit.k8s.io/v1 Event per stage of a request.

The audit stage runs after authentication and before impersonation (kube's order), so the event's
``user`` is the authenticated one; the impersonation filter adds ``impersonatedUser``. Stages:
RequestReceived when the stage sees the request; ResponseStarted when the headers go out, for
long-running requests only (watches); ResponseComplete at the end; Panic instead when the handler
raised (the panic-recovery filter, outside this one, then answers 500). A request the
authenticators refused gets a single ResponseStarted event with the 401 (kube does the same).

The filter is only in the chain when a policy and at least one backend are configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel.apimachinery import status
from kernel.audit import Level, PolicyRuleEvaluator, Stage
from kernel.audit.context import AuditContext
from kernel.authorization import Attributes
from kernel.endpoints.request import Handler, Request
from kernel.server.filters.authorization import attributes_of

if TYPE_CHECKING:
    from kernel.audit import Backend, Union
    from kernel.audit.metrics import AuditMetrics


def _begin(request: Request, attributes: Attributes, policy: PolicyRuleEvaluator,
           sink: Backend | Union, long_running: bool,
           metrics: AuditMetrics | None) -> AuditContext | None:
    """evaluatePolicyAndCreateAuditEvent: the request's audit context, None at level None."""
    config = policy.level_and_stages(attributes)
    if metrics is not None:
        metrics.level_counters[config.level].inc()
    if config.level == Level.NONE:
        return None
    context = AuditContext(config, sink, request, attributes, long_running)
    request.audit = context
    return context


def with_audit(handler: Handler, sink: Backend | Union, policy: PolicyRuleEvaluator,
               metrics: AuditMetrics | None = None) -> Handler:
    async def audit(request: Request) -> None:
        info = request.info
        assert info is not None
        context = _begin(request, attributes_of(request), policy, sink, info.is_long_running,
                         metrics)
        if context is None:
            await handler(request)
            return
        if not context.process_stage(Stage.REQUEST_RECEIVED):
            if metrics is not None:
                metrics.rejected.inc()
            await request.respond_error(status.internal_error("failed to store audit event"))
            return
        try:
            await handler(request)
        except Exception as error:
            context.log_status({"status": "Failure", "reason": "InternalError", "code": 500,
                                "message": f"APIServer panic'd: {error}"})
            context.process_stage(Stage.PANIC)
            raise
        except BaseException:  # cancelled (client gone, shutdown): the response is over
            _complete(context)
            raise
        _complete(context)

    return audit


def _complete(context: AuditContext) -> None:
    if context.response_status is None:  # nothing was written: kube fakes a success
        context.response_status = {"metadata": {}, "status": "Success",
                                   "message": "Connection closed early", "code": 200}
        if context.long_running:
            context.process_stage(Stage.RESPONSE_STARTED)
    context.process_stage(Stage.RESPONSE_COMPLETE)


def with_failed_authentication_audit(failed: Handler, sink: Backend | Union,
                                     policy: PolicyRuleEvaluator,
                                     metrics: AuditMetrics | None = None) -> Handler:
    """The 401 handler, audited: one ResponseStarted event, its user empty."""
    async def failed_authentication_audit(request: Request) -> None:
        info = request.info
        assert info is not None
        attributes = attributes_of_unauthenticated(request)
        context = _begin(request, attributes, policy, sink, True, metrics)
        if context is not None:
            context.response_status = {"metadata": {}, "message": _auth_methods(request)}
        await failed(request)

    return failed_authentication_audit


def attributes_of_unauthenticated(request: Request) -> Attributes:
    info = request.info
    assert info is not None
    user: Any = None  # the policy sees no user, as kube's does
    return Attributes(user=user, verb=info.verb, resource_request=info.is_resource_request,
                      path=info.path, namespace=info.namespace, api_group=info.api_group,
                      api_version=info.api_version, resource=info.resource,
                      subresource=info.subresource, name=info.name)


def _auth_methods(request: Request) -> str:
    """getAuthMethods: which credentials the refused request carried."""
    methods = []
    authorization = request.headers.get("authorization", "").strip()
    scheme = authorization.split(" ", 1)[0].lower() if authorization else ""
    if scheme == "basic":
        methods.append("basic")
    if scheme == "bearer" and len(authorization.split(" ")) > 1:
        methods.append("bearer")
    if request.query_value("access_token").strip():
        methods.append("access_token")
    if request.client_certificates:
        methods.append("x509")
    if methods:
        return "Authentication failed, attempted: " + ", ".join(methods)
    return "Authentication failed, no credentials provided"
