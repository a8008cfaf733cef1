"""ResourceSpec: everything the generic API machinery needs to serve one resource.

An API group plugin describes each resource once — names, scope, verbs, subresources, its
OpenAPI schema, its strategy and its table columns — and the kernel derives REST handlers,
discovery, OpenAPI documents, field validation and strategic-merge metadata from it.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import msgspec

from kernel.apimachinery.protobuf.schema import Message
from kernel.registry.subresources import (SCALE_GVK, SCALE_PROTOBUF, SCALE_SCHEMAS,
                                          CustomSubresource, ScaleSpec)
from kernel.storage import keys

Object = dict[str, Any]
#: ``finish(success)``: called once the storage write it prepared for has succeeded or failed.
Finish = Callable[[bool], None]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


class TableColumn(msgspec.Struct, frozen=True):
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

    def default(self, obj: Object) -> None:
        """Fill unset fields with the version's defaults (kube's SetDefaults_*, applied when a
        body is decoded): runs first on every create and update body, before the generation is
        compared, so that a body that only omits defaulted fields changes nothing."""

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

    async def begin_create(self, obj: Object, *, dry_run: bool) -> Finish | None:
        """kube's Store.BeginCreate: reserve what the object holds outside storage (a Service's
        ClusterIP, its NodePorts) once it is valid and admitted, just before it is stored. Raise a
        ``StatusError`` to refuse; the returned ``finish(ok)`` releases the reservation unless the
        write succeeded."""
        return None

    async def begin_update(self, obj: Object, old: Object, *, dry_run: bool) -> Finish | None:
        """kube's Store.BeginUpdate, likewise; may run once per conflict retry (each attempt's
        ``finish(False)`` is called before the next)."""
        return None

    async def after_delete(self, obj: Object) -> None:
        """kube's Store.AfterDelete: the object is gone from storage (release what it held)."""

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


class StorageConversion(msgspec.Struct, frozen=True):
    """Serve a resource from another resource's storage, converting on the way in and out.

    kube stores one object and serves it at several group-versions (events.k8s.io/v1 Events are
    core v1 Events in etcd; autoscaling/v1 HPAs are stored as autoscaling/v2). The ResourceSpec
    that declares this shares the storage (keys and watch cache) of resource ``plural`` of
    ``group``; every object read is passed through ``from_storage`` and every object written
    through ``to_storage``, so strategy, admission, field selectors and tables see the served
    shape and storage holds only the stored one. Both functions return new objects, keep
    ``metadata`` as it is and set the target ``apiVersion`` and ``kind``. ``version`` and
    ``kind`` name the stored form for discovery's storageVersionHash.
    """

    group: str
    plural: str
    to_storage: Callable[[Object], Object]
    from_storage: Callable[[Object], Object]
    version: str = ""
    kind: str = ""
    #: Conversions that need I/O (a CRD's conversion webhook): ``*_many(objects)`` converts a
    #: batch in one call (a whole list page, an event's object and previous object). When set,
    #: every object handed out or written goes through them, and ``to_storage``/``from_storage``
    #: only serve what must stay synchronous: selector predicates and delete preconditions (they
    #: then see the stored fields, with the served apiVersion), as kube's cacher evaluates
    #: selectors on the stored object. A failure raises the ``StatusError`` to answer with.
    to_storage_many: Callable[[list[Object]], Awaitable[list[Object]]] | None = None
    from_storage_many: Callable[[list[Object]], Awaitable[list[Object]]] | None = None


class ResourceSpec(msgspec.Struct, frozen=True):
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
    subresources: Sequence[str] = ()  # "status"; "scale" and custom ones are added from below
    strategy: Strategy = msgspec.field(default_factory=Strategy)
    #: Strategies of subresources updated through PUT/PATCH (``status``: :data:`STATUS_STRATEGY`).
    subresource_strategies: Mapping[str, Strategy] = msgspec.field(default_factory=dict)
    table_columns: Sequence[TableColumn] = ()
    #: ``(name, is_prefix) -> messages``; None: a DNS-1123 subdomain (namespaces use a label).
    name_validator: Callable[[str, bool], list[str]] | None = None
    #: Field selector names beyond metadata.name / metadata.namespace.
    selectable_fields: Sequence[str] = ()
    description: str = ""
    #: The kind's protobuf message (field numbers of k8s.io/api's generated.proto), for bodies
    #: sent as ``application/vnd.kubernetes.protobuf``; None: such a body is refused (415).
    protobuf: Message | None = None
    #: The generic ``scale`` subresource (autoscaling/v1 Scale over the object's replicas).
    scale: ScaleSpec | None = None
    #: POST subresources with a request kind and handler of their own (``pods/binding``).
    custom_subresources: Mapping[str, CustomSubresource] = msgspec.field(default_factory=dict)
    #: Stored as another resource (see :class:`StorageConversion`); None: stored as served.
    conversion: StorageConversion | None = None
    #: Decoded as unstructured (custom resources): fieldValidation still reports and drops
    #: fields the schema does not know, but a value of the wrong type is not a decode error
    #: (400); the strategy's validation reports it (kube's 422 with field paths).
    unstructured: bool = False
    #: PATCH content types served; None: all of kube's (custom resources have no strategic merge).
    patch_types: Sequence[str] | None = None

    def __post_init__(self) -> None:
        # Declaring scale or a custom subresource is enough: list it among the subresources and
        # carry the schemas its requests are validated and described with.
        extra = (["scale"] if self.scale else []) + list(self.custom_subresources)
        subresources = [*self.subresources, *(s for s in extra if s not in self.subresources)]
        added = ([SCALE_SCHEMAS] if self.scale else []) + [
            custom.schemas for custom in self.custom_subresources.values()]
        msgspec.structs.force_setattr(self, "subresources", tuple(subresources))
        if added:
            # A view, not a merged copy: generated components are decoded on first lookup, so
            # copying them would decode every one at registration. The kind's own win, then
            # the later subresources', as a merge in this order would have it.
            maps = [self.schemas, *reversed(added)]
            msgspec.structs.force_setattr(self, "schemas", ChainMap(*maps))

    def strategy_for(self, subresource: str) -> Strategy:
        if not subresource or (subresource == "scale" and self.scale):
            # a scale update is an update of the object itself (generation, validation)
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
        if self.conversion is not None:
            return keys.resource_prefix(self.conversion.group, self.conversion.plural)
        return keys.resource_prefix(self.group, self.plural)

    @property
    def storage_resource(self) -> tuple[str, str]:
        """(group, plural) of the resource whose shape storage holds."""
        if self.conversion is not None:
            return self.conversion.group, self.conversion.plural
        return self.group, self.plural


def protobuf_kinds(specs: Iterable[ResourceSpec]) -> dict[tuple[str, str], Message]:
    """The protobuf schemas ``specs`` declare, by (apiVersion, kind): what a body sent to one of
    an API group's endpoints may be decoded as (another kind of the group then gets kube's
    kind-mismatch 400, a kind of no declaring group 415)."""
    kinds: dict[tuple[str, str], Message] = {}
    for spec in specs:
        if spec.protobuf:
            kinds[(spec.group_version, spec.kind)] = spec.protobuf
        if spec.scale:
            kinds[("autoscaling/v1", SCALE_GVK.kind)] = SCALE_PROTOBUF
        for custom in spec.custom_subresources.values():
            if custom.protobuf:
                kinds[(custom.group_version, custom.kind)] = custom.protobuf
    return kinds
