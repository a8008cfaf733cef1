"""The ``request`` and ``namespaceObject`` values CEL sees (kube's admission/plugin/cel
``CreateAdmissionRequest`` and ``CreateNamespaceObject``), as their JSON forms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kernel.admission import Attributes, GroupVersionKind, GroupVersionResource

_NAMESPACE_META = ("name", "generateName", "namespace", "uid", "resourceVersion", "generation",
                   "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                   "labels", "annotations", "finalizers")


def _gvk(kind: GroupVersionKind) -> dict[str, str]:
    return {"group": kind.group, "version": kind.version, "kind": kind.kind}


def _gvr(resource: GroupVersionResource) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "resource": resource.resource}


def admission_request(attributes: Attributes, resource: GroupVersionResource,
                      kind: GroupVersionKind) -> dict[str, Any]:
    """An AdmissionRequest (admission/v1) as kube builds it for CEL: ``kind``/``resource`` the
    matched (equivalent) ones, ``requestKind``/``requestResource`` what was asked; no uid, no
    objects (they are ``object`` and ``oldObject``); fields kube omits when empty left out."""
    user = attributes.user
    user_info: dict[str, Any] = {}
    if user.name:
        user_info["username"] = user.name
    if user.uid:
        user_info["uid"] = user.uid
    if user.groups:
        user_info["groups"] = list(user.groups)
    if user.extra:
        user_info["extra"] = {key: list(values) for key, values in user.extra.items()}
    request: dict[str, Any] = {
        "uid": "", "kind": _gvk(kind), "resource": _gvr(resource),
        "requestKind": _gvk(attributes.kind), "requestResource": _gvr(attributes.resource),
        "operation": attributes.operation, "userInfo": user_info, "dryRun": attributes.dry_run,
        "options": dict(attributes.options)}
    if attributes.subresource:
        request["subResource"] = request["requestSubResource"] = attributes.subresource
    if attributes.name:
        request["name"] = attributes.name
    if attributes.namespace:
        request["namespace"] = attributes.namespace
    return request


def namespace_object(namespace: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The request's Namespace without its managedFields and ownerReferences (kube copies only
    spec, status and these metadata fields)."""
    if namespace is None:
        return None
    meta = namespace.get("metadata") or {}
    result: dict[str, Any] = {"metadata": {key: meta[key] for key in _NAMESPACE_META if key in meta}}
    for key in ("spec", "status"):
        if key in namespace:
            result[key] = namespace[key]
    return result
