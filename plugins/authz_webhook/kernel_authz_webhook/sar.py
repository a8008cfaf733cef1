"""SubjectAccessReview on the wire: the request's attributes as a review, its status as a decision.

As kube's webhook authorizer: ``spec`` carries the user (name, uid, groups, extra) and either
``resourceAttributes`` or ``nonResourceAttributes``; the answer's ``status.denied`` wins over
``allowed`` (both set is a Deny, and logged), neither is NoOpinion.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kernel.apimachinery import selectors
from kernel.authorization import Attributes, Decision

GROUP = "authorization.k8s.io"
VERSIONS = ("v1", "v1beta1")
#: Requester-controlled attributes longer than this are not cached (a DoS guard, as kube's).
MAX_CACHED_ATTRIBUTES = 10000


_LABEL_OPERATORS = {selectors.IN: "In", selectors.EQUALS: "In", selectors.DOUBLE_EQUALS: "In",
                    selectors.NOT_IN: "NotIn", selectors.NOT_EQUALS: "NotIn",
                    selectors.EXISTS: "Exists", selectors.DOES_NOT_EXIST: "DoesNotExist"}


def _field_requirements(raw: str) -> list[dict[str, Any]]:
    """A list's field selector as kube's webhook sends it: ``=`` terms as In, ``!=`` as NotIn."""
    try:
        terms = selectors.parse_field_selector(raw).terms if raw else ()
    except selectors.SelectorError:
        return []  # kube sends none then: the review asks about the broader, unscoped request
    return [{"key": t.field, "operator": "NotIn" if t.negated else "In", "values": [t.value]}
            for t in terms]


def _label_requirements(raw: str) -> list[dict[str, Any]]:
    """A list's label selector as kube's webhook sends it; Gt/Lt terms are left out (the
    requirements are ANDed, so leaving one out only asks about a broader request)."""
    try:
        requirements = selectors.parse_label_selector(raw).requirements if raw else ()
    except selectors.SelectorError:
        return []
    out = []
    for requirement in requirements:
        operator = _LABEL_OPERATORS.get(requirement.operator)
        if operator is not None:
            entry: dict[str, Any] = {"key": requirement.key, "operator": operator}
            if requirement.values:
                entry["values"] = list(requirement.values)
            out.append(entry)
    return out


def spec(attributes: Attributes) -> dict[str, Any]:
    """The v1 SubjectAccessReviewSpec, empty fields left out as the JSON encoding does."""
    user = attributes.user
    review: dict[str, Any] = {"user": user.name}
    if user.groups:
        review["groups"] = list(user.groups)
    if user.extra:
        review["extra"] = {key: list(values) for key, values in user.extra.items()}
    if user.uid:
        review["uid"] = user.uid
    if attributes.resource_request:
        fields = {"namespace": attributes.namespace, "verb": attributes.verb,
                  "group": attributes.api_group, "version": attributes.api_version,
                  "resource": attributes.resource, "subresource": attributes.subresource,
                  "name": attributes.name}
        review["resourceAttributes"] = {k: v for k, v in fields.items() if v}
        field_requirements = _field_requirements(attributes.field_selector)
        if field_requirements:
            review["resourceAttributes"]["fieldSelector"] = {"requirements": field_requirements}
        label_requirements = _label_requirements(attributes.label_selector)
        if label_requirements:
            review["resourceAttributes"]["labelSelector"] = {"requirements": label_requirements}
    else:
        review["nonResourceAttributes"] = {"path": attributes.path, "verb": attributes.verb}
    return review


def body(review_spec: Mapping[str, Any], version: str) -> bytes:
    """The SubjectAccessReview to POST (v1beta1 calls ``groups`` ``group``)."""
    wire = dict(review_spec)
    if version == "v1beta1" and "groups" in wire:
        wire["group"] = wire.pop("groups")
    return json.dumps({"apiVersion": f"{GROUP}/{version}", "kind": "SubjectAccessReview",
                       "spec": wire}, separators=(",", ":")).encode()


def cache_key(review_spec: Mapping[str, Any]) -> str:
    return json.dumps(review_spec, sort_keys=True, separators=(",", ":"))


def should_cache(attributes: Attributes) -> bool:
    size = sum(len(value) for value in (
        attributes.namespace, attributes.verb, attributes.api_group, attributes.api_version,
        attributes.resource, attributes.subresource, attributes.name, attributes.path))
    return size < MAX_CACHED_ATTRIBUTES


def match_input(review_spec: Mapping[str, Any]) -> dict[str, Any]:
    """``request`` for match conditions: every string field present, even the empty ones (kube's
    convertObjectToUnstructured)."""
    request: dict[str, Any] = {"user": review_spec.get("user", ""),
                               "groups": list(review_spec.get("groups", [])),
                               "uid": review_spec.get("uid", ""),
                               "extra": dict(review_spec.get("extra", {}))}
    resource = review_spec.get("resourceAttributes")
    if resource is not None:
        request["resourceAttributes"] = {key: resource.get(key, "") for key in (
            "namespace", "verb", "group", "version", "resource", "subresource", "name")}
    non_resource = review_spec.get("nonResourceAttributes")
    if non_resource is not None:
        request["nonResourceAttributes"] = {"verb": non_resource.get("verb", ""),
                                            "path": non_resource.get("path", "")}
    return request


class ReviewError(Exception):
    """The webhook's answer is not a SubjectAccessReview."""


def status_of(document: Any) -> dict[str, Any]:
    """The ``status`` of the webhook's answer, checked for shape."""
    if not isinstance(document, Mapping) or document.get("kind", "SubjectAccessReview") != "SubjectAccessReview":
        raise ReviewError("the webhook's response is not a SubjectAccessReview")
    status = document.get("status") or {}
    if not isinstance(status, Mapping):
        raise ReviewError("the webhook's response has no valid status")
    for key in ("allowed", "denied"):
        if not isinstance(status.get(key, False), bool):
            raise ReviewError(f"status.{key} of the webhook's response is not a boolean")
    for key in ("reason", "evaluationError"):
        if not isinstance(status.get(key, ""), str):
            raise ReviewError(f"status.{key} of the webhook's response is not a string")
    return dict(status)


def decision(status: Mapping[str, Any]) -> tuple[Decision, str]:
    """Deny if denied, Allow if allowed, else NoOpinion; the reason is the webhook's (or its
    evaluationError when it gives no reason)."""
    reason = status.get("reason") or status.get("evaluationError") or ""
    if status.get("denied"):
        return Decision.DENY, reason
    if status.get("allowed"):
        return Decision.ALLOW, reason
    return Decision.NO_OPINION, reason
