"""ResourceSpec: everything the generic API machinery needs to serve one resource.

An API group plugin describes each resource once — names, scope, verbs, subresources, its
OpenAPI schema, its strategy and its table columns — and the kernel derives REST handlers,
discovery, OpenAPI documents, field validation and strategic-merge metadata from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kernel.apimachinery.protobuf.schema import Message
from kernel.storage import keys

Object = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class TableColumn:
    """A server-side printing column (metav1.TableColumnDefinition) and how to fill it."""

    name: str
    type: str  # string, integer, number, boolean, date
    cell: Callable[[Object], Any]
    format: str = ""  # "name" for the Name column
    description: str = ""
    priority: int = 0  # 1: only with -o wide


class Strategy:
    """kube's RESTCreateStrategy/RESTUpdateStrategy with safe defaults; override per resource.

    ``validate*`` return a list of ``kernel.apimachinery.validation.FieldError``.
    """

    #: Bump metadata.generation when anything but metadata and status changes.
    track_generation = False
    #: PUT to a missing object creates it.
    allow_create_on_update = False
    #: PUT without metadata.resourceVersion overwrites instead of 422.
    allow_unconditional_update = True

    def prepare_for_create(self, obj: Object) -> None:
        """Reset fields clients may not set on create (e.g. status)."""

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        """Carry over fields an update may not change (e.g. status from the main resource)."""

    def canonicalize(self, obj: Object) -> None:
        """Normalise an object once its name is final (kube's Canonicalize), before validation."""

    def validate(self, obj: Object) -> list[Any]:
        return []

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return self.validate(obj)

    def delete_pending(self, obj: Object) -> bool:
        """Whether a delete must wait (kube: finalizers remain); the object then gets a
        deletionTimestamp and is removed once this turns false."""
        return bool((obj.get("metadata") or {}).get("finalizers"))

    def prepare_for_delete(self, obj: Object) -> None:
        """Mutate an object being marked for deletion (a namespace turns Terminating)."""

    def field_selectors(self, obj: Object) -> Mapping[str, str]:
        """Per-resource selectable fields beyond metadata.name and metadata.namespace."""
        return {}


class StatusStrategy(Strategy):
    """The generic ``/status`` subresource: only ``status`` changes; the rest is the stored object."""

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        status = obj.get("status")
        meta = obj.get("metadata")
        obj.clear()
        obj.update({k: v for k, v in old.items()})
        obj["metadata"] = {**(old.get("metadata") or {}),
                           "resourceVersion": (meta or {}).get("resourceVersion")}
        if status is None:
            obj.pop("status", None)
        else:
            obj["status"] = status

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return []


STATUS_STRATEGY = StatusStrategy()


@dataclass(frozen=True)
class ResourceSpec:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    #: The OpenAPI v3 component name of the kind, e.g. ``io.k8s.api.core.v1.ConfigMap``.
    schema_name: str
    #: OpenAPI v3 components this resource contributes (its kind and the types it uses).
    schemas: Mapping[str, Object]
    short_names: Sequence[str] = ()
    categories: Sequence[str] = ()
    verbs: Sequence[str] = ALL_VERBS
    subresources: Sequence[str] = ()  # "status"
    strategy: Strategy = field(default_factory=Strategy)
    #: Strategies of subresources updated through PUT/PATCH (``status``: :data:`STATUS_STRATEGY`).
    subresource_strategies: Mapping[str, Strategy] = field(default_factory=dict)
    table_columns: Sequence[TableColumn] = ()
    #: ``(name, is_prefix) -> messages``; None: a DNS-1123 subdomain (namespaces use a label).
    name_validator: Callable[[str, bool], list[str]] | None = None
    #: Field selector names beyond metadata.name / metadata.namespace.
    selectable_fields: Sequence[str] = ()
    description: str = ""
    #: The kind's protobuf message (field numbers of k8s.io/api's generated.proto), for bodies
    #: sent as ``application/vnd.kubernetes.protobuf``; None: such a body is refused (415).
    protobuf: Message | None = None

    def strategy_for(self, subresource: str) -> Strategy:
        if not subresource:
            return self.strategy
        return self.subresource_strategies.get(subresource) or STATUS_STRATEGY

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def storage_prefix(self) -> str:
        """Where objects live in storage, in kube's etcd layout (``/registry/configmaps/``)."""
        return keys.resource_prefix(self.group, self.plural)


def protobuf_kinds(specs: Iterable[ResourceSpec]) -> dict[tuple[str, str], Message]:
    """The protobuf schemas ``specs`` declare, by (apiVersion, kind): what a body sent to one of
    an API group's endpoints may be decoded as (another kind of the group then gets kube's
    kind-mismatch 400, a kind of no declaring group 415)."""
    return {(spec.group_version, spec.kind): spec.protobuf for spec in specs if spec.protobuf}
