"""kube's validation of the access reviews (pkg/apis/authorization/validation), as field errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kernel.apimachinery.validation import FieldError, GoLiteral

EXACTLY_ONE = "exactly one of nonResourceAttributes or resourceAttributes must be specified"
NOT_BOTH = "cannot be specified in combination with resourceAttributes"


def _go_struct(value: Mapping[str, Any] | None) -> Any:
    """A bad value as field.Error prints a struct: its JSON (an internal type's Go field names)."""
    if value is None:
        return None
    fields = {key[:1].upper() + key[1:]: val for key, val in value.items()}
    return GoLiteral(json.dumps(fields, separators=(",", ":")))


def _selector_errors(selector: Any, path: str) -> list[FieldError]:
    if not isinstance(selector, Mapping):
        return []
    raw, requirements = selector.get("rawSelector") or "", selector.get("requirements") or []
    if raw and requirements:
        return [FieldError.invalid(f"{path}.rawSelector", raw,
                                   "may not specified at the same time as requirements")]
    if not raw and not requirements:
        return [FieldError.required(f"{path}.requirements",
                                    f"when {path} is specified, requirements or rawSelector is required")]
    return []


def _resource_attributes_errors(attributes: Any) -> list[FieldError]:
    if not isinstance(attributes, Mapping):
        return []
    path = "spec.resourceAttributes"
    return (_selector_errors(attributes.get("fieldSelector"), f"{path}.fieldSelector")
            + _selector_errors(attributes.get("labelSelector"), f"{path}.labelSelector"))


def spec_errors(spec: Mapping[str, Any], self_review: bool) -> list[FieldError]:
    """ValidateSubjectAccessReviewSpec (``self_review``: ValidateSelfSubjectAccessReviewSpec,
    which has no user to check)."""
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    errors = []
    if resource is not None and non_resource is not None:
        errors.append(FieldError.invalid("spec.nonResourceAttributes",
                                         _go_struct(non_resource), NOT_BOTH))
    if resource is None and non_resource is None:
        errors.append(FieldError.invalid("spec.resourceAttributes", None, EXACTLY_ONE))
    if not self_review and not spec.get("user") and not spec.get("groups"):
        errors.append(FieldError.invalid("spec.user", spec.get("user") or "",
                                         "at least one of user or group must be specified"))
    return errors + _resource_attributes_errors(resource)


def _meta_without(meta: Mapping[str, Any], *ignored: str) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in ("managedFields", *ignored) and v not in (None, "", {}, [])}


#: metav1.ObjectMeta's fields in Go's order, for its JSON in a message.
_META_ORDER = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
               "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
               "annotations", "ownerReferences", "finalizers", "managedFields")


def _meta_value(meta: Mapping[str, Any]) -> Any:
    shown = {key: meta[key] for key in _META_ORDER if key in meta}
    shown.setdefault("creationTimestamp", None)  # a zero metav1.Time is always written, as null
    ordered = {key: shown[key] for key in _META_ORDER if key in shown}
    return GoLiteral(json.dumps(ordered, separators=(",", ":")))


def review_errors(obj: Mapping[str, Any], self_review: bool) -> list[FieldError]:
    """ValidateSubjectAccessReview / ValidateSelfSubjectAccessReview: metadata must be empty."""
    errors = spec_errors(obj.get("spec") or {}, self_review)
    meta = obj.get("metadata") or {}
    if _meta_without(meta):
        errors.append(FieldError.invalid("metadata", _meta_value(meta), "must be empty"))
    return errors


def local_review_errors(obj: Mapping[str, Any]) -> list[FieldError]:
    """ValidateLocalSubjectAccessReview: metadata only names the namespace, which the resource
    attributes' namespace must match; no non-resource attributes."""
    spec = obj.get("spec") or {}
    meta = obj.get("metadata") or {}
    errors = spec_errors(spec, self_review=False)
    if _meta_without(meta, "namespace"):
        errors.append(FieldError.invalid("metadata", _meta_value(meta),
                                         "must be empty except for namespace"))
    resource = spec.get("resourceAttributes")
    if isinstance(resource, Mapping) and (resource.get("namespace") or "") != (meta.get("namespace") or ""):
        errors.append(FieldError.invalid("spec.resourceAttributes.namespace",
                                         resource.get("namespace") or "", "must match metadata.namespace"))
    if spec.get("nonResourceAttributes") is not None:
        errors.append(FieldError.invalid("spec.nonResourceAttributes",
                                         _go_struct(spec["nonResourceAttributes"]),
                                         "disallowed on this kind of request"))
    return errors
