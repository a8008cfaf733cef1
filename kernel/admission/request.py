"""The AdmissionRequest (admission.k8s.io/v1) of a matched request, as webhooks receive it and as
CEL sees it in ``request`` (kube's ``CreateAdmissionRequest``, shared by the webhook, its
matchConditions and ValidatingAdmissionPolicy)."""

from __future__ import annotations

from typing import Any

from kernel.admission import Attributes, GroupVersionKind, GroupVersionResource
from kernel.admission.predicates import Match
from kernel.authentication.user import user_info_json


def _gvk(kind: GroupVersionKind) -> dict[str, str]:
    return {"group": kind.group, "version": kind.version, "kind": kind.kind}


def _gvr(resource: GroupVersionResource) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "resource": resource.resource}


def admission_request(attributes: Attributes, match: Match, uid: str = "") -> dict[str, Any]:
    """``kind``/``resource`` as the request matched (an equivalent resource when only that did),
    ``requestKind``/``requestResource`` as it was made; fields Go omits when empty left out. No
    ``object``/``oldObject``: a webhook's review adds them, CEL has them as variables of their own."""
    request: dict[str, Any] = {
        "uid": uid, "kind": _gvk(match.kind), "resource": _gvr(match.resource),
        "requestKind": _gvk(attributes.kind), "requestResource": _gvr(attributes.resource),
        "operation": attributes.operation, "userInfo": user_info_json(attributes.user),
        "dryRun": attributes.dry_run,
        "options": dict(attributes.options) if attributes.options else None}
    if match.subresource:
        request["subResource"] = match.subresource
    if attributes.subresource:
        request["requestSubResource"] = attributes.subresource
    if attributes.name:
        request["name"] = attributes.name
    if attributes.namespace:
        request["namespace"] = attributes.namespace
    return request
