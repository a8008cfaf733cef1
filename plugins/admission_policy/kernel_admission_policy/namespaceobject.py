"""The ``namespaceObject`` value CEL sees (kube's admission/plugin/cel ``CreateNamespaceObject``);
``request`` is :func:`kernel.admission.request.admission_request`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NAMESPACE_META = ("name", "generateName", "namespace", "uid", "resourceVersion", "generation",
                   "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                   "labels", "annotations", "finalizers")


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
