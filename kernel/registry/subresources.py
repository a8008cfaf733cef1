"""Subresources with a kind of their own: the generic ``scale`` and custom POST subresources.

- ``scale`` (kube's generic Scale, as a CRD's ``subresources.scale`` declares it): GET, PUT and
  PATCH ``<resource>/<name>/scale`` read and write an ``autoscaling/v1`` Scale whose
  ``spec.replicas`` is the object's replica count and whose status comes from the object.
- custom subresources (kube's NamedCreater REST, e.g. ``pods/binding``, ``pods/eviction``,
  ``serviceaccounts/token``): POST a body of the subresource's own kind; the kernel decodes,
  field-validates and admits it, then hands it to the resource's handler coroutine.

A :class:`~kernel.registry.resource.ResourceSpec` declares them with ``scale=ScaleSpec(...)`` and
``custom_subresources={"binding": CustomSubresource(...)}``; discovery, OpenAPI, authorization
(the subresource is in the request info) and admission (in the Attributes) follow.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import msgspec

from kernel.admission import GroupVersionKind
from kernel.apimachinery import schemas as meta
from kernel.apimachinery.protobuf.meta import OBJECT_META
from kernel.apimachinery.protobuf.schema import Message, int32, message, string
from kernel.apimachinery.selectors import SelectorError, label_selector_from_dict
from kernel.apimachinery.validation import FieldError, name_is_dns_subdomain, validate_object_meta

Object = dict[str, Any]

SCALE_GVK = GroupVersionKind("autoscaling", "v1", "Scale")
SCALE_SCHEMA_NAME = "io.k8s.api.autoscaling.v1.Scale"
_SCALE_SPEC, _SCALE_STATUS = SCALE_SCHEMA_NAME + "Spec", SCALE_SCHEMA_NAME + "Status"
_CONVENTIONS = "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"

#: The OpenAPI components of autoscaling/v1 Scale (k8s.io/api/autoscaling/v1/types.go).
SCALE_SCHEMAS: dict[str, Object] = {
    SCALE_SCHEMA_NAME: {
        "description": "Scale represents a scaling request for a resource.",
        "properties": {
            **meta.type_meta_properties(),
            "metadata": meta.ref_field(meta.OBJECT_META, "Standard object metadata; More info: "
                                       f"{_CONVENTIONS}#metadata.", default={}),
            "spec": meta.ref_field(_SCALE_SPEC, "spec defines the behavior of the scale. More info: "
                                   f"{_CONVENTIONS}#spec-and-status.", default={}),
            "status": meta.ref_field(_SCALE_STATUS, "status is the current status of the scale. "
                                     f"More info: {_CONVENTIONS}#spec-and-status. Read-only.",
                                     default={}),
        },
        "type": "object",
        "x-kubernetes-group-version-kind": meta.gvk("autoscaling", "v1", "Scale"),
    },
    _SCALE_SPEC: {
        "description": "ScaleSpec describes the attributes of a scale subresource.",
        "properties": {"replicas": {
            "default": 0, "format": "int32", "type": "integer",
            "description": "replicas is the desired number of instances for the scaled object."}},
        "type": "object",
    },
    _SCALE_STATUS: {
        "description": "ScaleStatus represents the current status of a scale subresource.",
        "properties": {
            "replicas": {"default": 0, "format": "int32", "type": "integer",
                         "description": "replicas is the actual number of observed instances of "
                                        "the scaled object."},
            "selector": {"type": "string", "description": (
                "selector is the label query over pods that should match the replicas count. This "
                "is same as the label selector but in the string format to avoid introspection by "
                "clients. The string will be in the same format as the query-param syntax. More "
                "info about label selectors: "
                "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/")},
        },
        "required": ["replicas"],
        "type": "object",
    },
    **meta.meta_schemas(),
}

#: k8s.io/api/autoscaling/v1/generated.proto's Scale, for protobuf bodies of a PUT.
SCALE_PROTOBUF = Message("Scale", {
    1: message("metadata", OBJECT_META),
    2: message("spec", Message("ScaleSpec", {1: int32("replicas")})),
    3: message("status", Message("ScaleStatus", {1: int32("replicas", keep_zero=True),
                                                 2: string("selector")})),
})


def _path(path: str) -> tuple[str, ...]:
    """``.spec.replicas`` or ``spec.replicas`` (a CRD's JSON path form, or without the dot)."""
    return tuple(path.removeprefix(".").split("."))


def _get(obj: Object, path: tuple[str, ...]) -> Any:
    node: Any = obj
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _set(obj: Object, path: tuple[str, ...], value: Any) -> None:
    node = obj
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def selector_string(value: Any) -> str:
    """autoscaling/v1 ``status.selector``: a selector already in string form (a CRD's
    labelSelectorPath), a metav1.LabelSelector (apps' ``spec.selector``) or a plain label map
    (a ReplicationController's ``spec.selector``), in the query-parameter syntax."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return ""
    if set(value) <= {"matchLabels", "matchExpressions"}:
        try:
            return str(label_selector_from_dict(value))
        except SelectorError:  # an invalid stored selector: kube would fail validation earlier
            return ""
    return ",".join(f"{key}={value[key]}" for key in sorted(value))  # labels.SelectorFromSet


class ScaleSpec(msgspec.Struct, frozen=True):
    """Where a resource keeps what its Scale shows (a CRD's ``subresources.scale``)."""

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    #: A LabelSelector, label map or selector string; "" for none (status.selector stays unset).
    label_selector_path: str = ".spec.selector"

    def scale_of(self, obj: Object) -> Object:
        """The Scale of ``obj``: its identity, and replicas and selector read at the paths."""
        metadata = obj.get("metadata") or {}
        scale_meta = {key: metadata[key] for key in
                      ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                      if metadata.get(key)}
        spec_replicas = _get(obj, _path(self.spec_replicas_path))
        status_replicas = _get(obj, _path(self.status_replicas_path))
        status: Object = {"replicas": status_replicas if isinstance(status_replicas, int) else 0}
        if self.label_selector_path:
            selector = selector_string(_get(obj, _path(self.label_selector_path)))
            if selector:
                status["selector"] = selector
        spec = {"replicas": spec_replicas} if isinstance(spec_replicas, int) and spec_replicas else {}
        return {"kind": SCALE_GVK.kind, "apiVersion": "autoscaling/v1", "metadata": scale_meta,
                "spec": spec, "status": status}

    def apply(self, obj: Object, scale: Object) -> Object:
        """``obj`` with the Scale's replicas; the Scale's resourceVersion, if any, becomes the
        update's precondition (a stale one is a 409 on the object)."""
        replicas = (scale.get("spec") or {}).get("replicas") or 0
        _set(obj, _path(self.spec_replicas_path), replicas)
        version = (scale.get("metadata") or {}).get("resourceVersion")
        if version:
            obj.setdefault("metadata", {})["resourceVersion"] = version
        return obj


def validate_scale(scale: Object, namespaced: bool = True) -> list[FieldError]:
    """autoscaling's ValidateScale: the metadata, and no negative replica count."""
    errors = validate_object_meta(scale.get("metadata") or {}, namespaced=namespaced,
                                  name_validator=name_is_dns_subdomain, is_create=False)
    replicas = (scale.get("spec") or {}).get("replicas") or 0
    if isinstance(replicas, int) and replicas < 0:
        errors.append(FieldError.invalid("spec.replicas", replicas,
                                         "must be greater than or equal to 0"))
    return errors


class SubresourceCall(msgspec.Struct, frozen=True):
    """What a custom subresource's handler receives: the decoded, admitted request body."""

    #: The registry (``kernel.registry.store.Store``) of the resource the subresource belongs to.
    store: Any
    namespace: str
    name: str  # the name in the URL: the object the subresource acts on
    body: Object  # the request object, of the subresource's kind
    user: Any  # the requesting ``UserInfo``
    dry_run: bool
    #: The CreateOptions object as admission saw it (dryRun, fieldManager, fieldValidation).
    options: Mapping[str, Any]
    #: ``stores(group, resource)``: another resource's registry (eviction reads PodDisruptionBudgets).
    stores: Callable[[str, str], Any]

    def copy_body(self) -> Object:
        return copy.deepcopy(self.body)


#: A handler returns the response object: the request kind back (TokenRequest), or a
#: ``Status`` (binding, eviction); a Status without a code is answered as 201 Created.
SubresourceHandler = Callable[[SubresourceCall], Awaitable[Object]]


class CustomSubresource(msgspec.Struct, frozen=True):
    """A POST subresource with its own request kind (kube's NamedCreater: pods/binding...)."""

    group: str
    version: str
    kind: str
    #: The OpenAPI component of the request kind, and the components it uses.
    schema_name: str
    schemas: Mapping[str, Object]
    handler: SubresourceHandler
    verbs: Sequence[str] = ("create",)
    #: The kind's protobuf message, for bodies kubectl sends as protobuf; None: refused (415).
    protobuf: Message | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if tuple(self.verbs) != ("create",):
            raise ValueError(f"custom subresource {self.kind}: only the verb create (POST) is "
                             f"served, not {list(self.verbs)}")

    @property
    def gvk(self) -> GroupVersionKind:
        return GroupVersionKind(self.group, self.version, self.kind)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


__all__ = ["CustomSubresource", "SCALE_GVK", "SCALE_PROTOBUF", "SCALE_SCHEMAS", "SCALE_SCHEMA_NAME",
           "ScaleSpec", "SubresourceCall", "SubresourceHandler", "selector_string",
           "validate_scale"]
