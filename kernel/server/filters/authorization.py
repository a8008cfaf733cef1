"""WithAuthorization: ask the authorizer chain; anything but Allow is a 403 with kube's message,
or a 500 when a mode failed to decide."""

from __future__ import annotations

import logging

from kernel.apimachinery import status
from kernel.authorization import Attributes, AuthorizationError, Authorizer, Decision, forbidden_message
from kernel.endpoints.request import Handler, Request

log = logging.getLogger("kernel.authorization")
DECISION = "authorization.k8s.io/decision"
REASON = "authorization.k8s.io/reason"


def attributes_of(request: Request) -> Attributes:
    info = request.info
    assert info is not None and request.user is not None
    return Attributes(user=request.user, verb=info.verb, resource_request=info.is_resource_request,
                      path=info.path, namespace=info.namespace, api_group=info.api_group,
                      api_version=info.api_version, resource=info.resource,
                      subresource=info.subresource, name=info.name,
                      field_selector=info.field_selector, label_selector=info.label_selector)


def with_authorization(handler: Handler, authorizer: Authorizer) -> Handler:
    async def authorization(request: Request) -> None:
        attributes = attributes_of(request)
        try:
            decision, reason = await authorizer.authorize(attributes)
        except AuthorizationError as error:  # a mode failed and none allowed: kube's 500
            if request.audit is not None:
                request.audit_annotations.setdefault(REASON, "internal error")
            log.info("authorization of %s %s failed: %s", attributes.verb, attributes.path, error)
            await request.respond_error(status.internal_error(str(error)))
            return
        if request.audit is not None:  # kube's annotations, for the audit event only
            annotations = request.audit_annotations
            annotations.setdefault(DECISION, "allow" if decision is Decision.ALLOW else "forbid")
            annotations.setdefault(REASON, reason)
        if decision is Decision.ALLOW:
            await handler(request)
            return
        resource = attributes.resource if attributes.resource_request else ""
        await request.respond_error(status.forbidden(
            forbidden_message(attributes, reason), attributes.api_group, resource, attributes.name))

    return authorization
