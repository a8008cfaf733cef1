"""AdmissionReview on the wire (k8s.io/apiserver admission/plugin/webhook/request): the request
a webhook is sent and the checks its answer must pass."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec

from kernel.admission import Attributes
from kernel.admission.predicates import Match
from kernel.admission.request import admission_request

V1 = "admission.k8s.io/v1"
V1BETA1 = "admission.k8s.io/v1beta1"


class InvalidResponse(Exception):
    """The answer is not a usable AdmissionReview (kube's "received invalid webhook response")."""


class AdmissionResponse(msgspec.Struct):
    allowed: bool
    result: dict[str, Any] | None = None
    patch: bytes = b""
    patch_type: str = ""
    warnings: list[str] = msgspec.field(default_factory=list)
    audit_annotations: dict[str, str] = msgspec.field(default_factory=dict)


def create_review(attributes: Attributes, match: Match, versions: list[str]) -> tuple[str, dict[str, Any]] | None:
    """(uid, AdmissionReview) in the first version the webhook accepts (v1, v1beta1); None when it
    accepts neither."""
    for version in versions:
        if version in ("v1", "v1beta1"):
            uid = str(uuid.uuid4())
            return uid, {"kind": "AdmissionReview", "apiVersion": V1 if version == "v1" else V1BETA1,
                         "request": {**admission_request(attributes, match, uid),
                                     "object": attributes.object, "oldObject": attributes.old_object}}
    return None


def _gvk_string(review: Mapping[str, Any]) -> str:
    group, _, version = str(review.get("apiVersion") or "").rpartition("/")
    return f"{group}/{version}, Kind={review.get('kind') or ''}"


def _patch(response: Mapping[str, Any], mutating: bool, v1: bool) -> tuple[bytes, str]:
    raw, patch_type = response.get("patch"), response.get("patchType")
    try:
        patch = base64.b64decode(raw, validate=True) if raw else b""
    except (binascii.Error, TypeError, ValueError) as error:
        raise InvalidResponse(f"illegal base64 data in response.patch: {error}") from None
    if not v1:  # v1beta1: a patch is a JSONPatch, whatever patchType says
        return (patch, "JSONPatch" if patch else "") if mutating else (b"", "")
    if not mutating:
        if patch:
            raise InvalidResponse("validating webhook may not return response.patch")
        if patch_type is not None:
            raise InvalidResponse("validating webhook may not return response.patchType")
        return b"", ""
    if patch and patch_type is None:
        raise InvalidResponse("webhook returned response.patch but not response.patchType")
    if not patch and patch_type is not None:
        raise InvalidResponse("webhook returned response.patchType but not response.patch")
    if patch_type is not None and not patch_type:
        raise InvalidResponse(f'webhook returned invalid response.patchType of "{patch_type}"')
    return patch, patch_type or ""


def verify_response(uid: str, mutating: bool, sent: Mapping[str, Any], review: Any) -> AdmissionResponse:
    """kube's VerifyAdmissionResponse for the version ``sent``; InvalidResponse with its words."""
    if not isinstance(review, dict):
        raise InvalidResponse("webhook response was absent")
    response = review.get("response")
    if not isinstance(response, dict):
        raise InvalidResponse("webhook response was absent")
    v1 = sent["apiVersion"] == V1
    if v1:
        if response.get("uid", "") != uid:
            raise InvalidResponse(f'expected response.uid="{uid}", got "{response.get("uid", "")}"')
        if review.get("apiVersion") != V1 or review.get("kind") != "AdmissionReview":
            raise InvalidResponse(f"expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, "
                                  f"got {_gvk_string(review)}")
    patch, patch_type = _patch(response, mutating, v1)
    result = response.get("status")
    return AdmissionResponse(bool(response.get("allowed")), result if isinstance(result, dict) else None,
                             patch, patch_type, [str(w) for w in response.get("warnings") or ()],
                             {str(k): str(v) for k, v in (response.get("auditAnnotations") or {}).items()})
