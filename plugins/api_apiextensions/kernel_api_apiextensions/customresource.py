"""Custom resources: the ResourceSpecs (and so the REST, discovery and OpenAPI) of one CRD's served
versions, built once per CRD change (apiextensions-apiserver's crdHandler serving info).

Each version's strategy prunes unknown fields, applies defaults and validates against the
version's compiled schema; objects are stored in the storage version and every served version
reads them with its own apiVersion (conversion strategy None).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from kernel.apimachinery import status as apistatus
from kernel.apimachinery.patchtypes import JSON_PATCH, MERGE_PATCH
from kernel.apimachinery.validation import (NOT_SUPPORTED, REQUIRED, TOO_LONG, TOO_MANY,
                                            FieldError)
from kernel.apimachinery.schemas import (API_VERSION_DESCRIPTION, KIND_DESCRIPTION, OBJECT_META,
                                         OBJECT_METADATA_DESCRIPTION, meta_schemas, ref_field)
from kernel.endpoints.table import NAME_COLUMN, age
from kernel.registry.resource import (Object, ResourceSpec, StatusStrategy, StorageConversion,
                                      Strategy, TableColumn)
from kernel.registry.subresources import ScaleSpec

from kernel_api_apiextensions import celvalidation, jsonpath
from kernel_api_apiextensions.celcompilation import RuleNode, compile_rules
from kernel_api_apiextensions.schema import (Node, apply_defaults, compile_schema, has_defaults,
                                             prune)
from kernel_api_apiextensions.validator import validate_object
from kernel_api_apiextensions.webhookconverter import WebhookConverter
from kernel_webhook import Resolver

#: Patch types a custom resource takes: no strategic merge (kube answers 415 and lists these).
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, "application/apply-patch+yaml")
DEFAULT_COLUMNS = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]


def schema_component(group: str, version: str, kind: str) -> str:
    """kube's OpenAPI name of a custom kind: the group reversed (``com.example.stable.v1.CronTab``)."""
    return ".".join([*reversed(group.split(".")), version, kind])


class CustomResourceStrategy(Strategy):
    """customResourceStrategy: prune, default, validate against the version's schema; status
    is the status subresource's to change when that is enabled; generation tracked."""

    track_generation = True
    allow_create_on_update = False
    allow_unconditional_update = False

    def __init__(self, node: Node, status: bool, selectable: Mapping[str, list[Any]],
                 group_resource: tuple[str, str] = ("", ""), terminating: bool = False,
                 prune: bool = True, rules: RuleNode | None = None) -> None:
        self.node = node
        self.rules = rules  # x-kubernetes-validations, compiled once per CRD change
        self.prune = prune  # False: spec.preserveUnknownFields (legacy), nothing is pruned
        self.status = status
        self.selectable = selectable  # field name → parsed JSONPath
        self.group_resource = group_resource
        self.terminating = terminating  # the CRD is being deleted: no new objects

    async def begin_create(self, obj: Object, *, dry_run: bool) -> None:
        if self.terminating:
            group, plural = self.group_resource
            name = (obj.get("metadata") or {}).get("name") or ""
            raise apistatus.forbidden(f'{plural}.{group} "{name}" is forbidden: create not allowed '
                                   "while custom resource definition is terminating",
                                   group, plural, name)

    def default(self, obj: Object) -> None:
        if self.prune:
            prune(obj, self.node)
        apply_defaults(obj, self.node)

    def prepare_for_create(self, obj: Object) -> None:
        if self.status:
            obj.pop("status", None)

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        if self.status:
            if "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            else:
                obj.pop("status", None)

    def validate(self, obj: Object) -> list[Any]:
        return validate_with_rules(obj, self.node, self.rules)

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return validate_with_rules(obj, self.node, self.rules, old)

    def field_selectors(self, obj: Object) -> Mapping[str, str]:
        fields: dict[str, str] = {}
        for name, steps in self.selectable.items():
            found = jsonpath.find(obj, steps)
            value = found[0] if found else ""
            fields[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return fields


class CustomResourceStatusStrategy(StatusStrategy):
    """The status subresource: only status changes, and the result still fits the schema."""

    def __init__(self, node: Node, rules: RuleNode | None = None) -> None:
        self.node = node
        self.rules = rules

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return validate_with_rules(obj, self.node, self.rules, old)


def _blocking(errors: list[Any]) -> bool:
    """hasBlockingErr: a wrong type, a missing required field, an unsupported value or a too
    long/large value stops kube from running the rules (they could not be typed)."""
    blocking = (NOT_SUPPORTED, REQUIRED, TOO_LONG, TOO_MANY)
    return any(e.type in blocking or " in body must be of type " in e.detail for e in errors)


def validate_with_rules(obj: Object, node: Node, rules: RuleNode | None,
                        old: Object | None = None) -> list[Any]:
    """The schema's errors, then the x-kubernetes-validations rules' (customResourceStrategy)."""
    errors = validate_object(obj, node)
    if rules is None:
        return errors
    if _blocking(errors):
        return [*errors, FieldError.invalid("<nil>", None, (
            "some validation rules were not checked because the object was invalid; correct "
            "the existing errors to complete validation"))]
    return errors + celvalidation.validate(rules, obj, celvalidation.MISSING if old is None else old)


def _cell(steps: list[Any], column_type: str) -> Any:
    def cell(obj: Object) -> Any:
        found = jsonpath.find(obj, steps)
        if not found:
            return None
        value = found[0] if len(found) == 1 else " ".join(str(v) for v in found)
        if column_type == "date":
            return age(value) if isinstance(value, str) else None
        if column_type == "string" and not isinstance(value, str):
            return str(value) if not isinstance(value, (dict, list)) else value
        return value
    return cell


def table_columns(columns: Sequence[Mapping[str, Any]]) -> tuple[TableColumn, ...]:
    """Name, then the CRD's additionalPrinterColumns (date columns shown as an age)."""
    built = [NAME_COLUMN]
    for column in columns:
        kind = column.get("type") or "string"
        built.append(TableColumn(column["name"], "string" if kind == "date" else kind,
                                 _cell(jsonpath.parse(column["jsonPath"]), kind),
                                 format=column.get("format") or "",
                                 description=column.get("description") or "",
                                 priority=column.get("priority") or 0))
    return tuple(built)


def _add_object_fields(schema: dict[str, Any]) -> None:
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string", "description": API_VERSION_DESCRIPTION}
    properties["kind"] = {"type": "string", "description": KIND_DESCRIPTION}
    properties["metadata"] = ref_field(OBJECT_META, OBJECT_METADATA_DESCRIPTION)


def _embedded(schema: Any) -> None:
    """x-kubernetes-embedded-resource objects get apiVersion, kind and ObjectMeta too."""
    if not isinstance(schema, dict):
        return
    if schema.get("x-kubernetes-embedded-resource"):
        _add_object_fields(schema)
    for child in (schema.get("properties") or {}).values():
        _embedded(child)
    _embedded(schema.get("items"))
    _embedded(schema.get("additionalProperties"))


def _preserve_everything(schema: Any) -> None:
    """spec.preserveUnknownFields: every object keeps unknown fields (fieldValidation too)."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") in ("object", None):
        schema["x-kubernetes-preserve-unknown-fields"] = True
    for child in (schema.get("properties") or {}).values():
        _preserve_everything(child)
    _preserve_everything(schema.get("items"))
    _preserve_everything(schema.get("additionalProperties"))


def _published_schema(schema: Mapping[str, Any] | None, description: str) -> dict[str, Any]:
    """The version's schema as OpenAPI shows it (and fieldValidation walks it): apiVersion, kind
    and ObjectMeta added to the object and to embedded resources."""
    published = copy.deepcopy(dict(schema or {"x-kubernetes-preserve-unknown-fields": True}))
    published.setdefault("type", "object")
    _embedded(published)
    _add_object_fields(published)
    if description and "description" not in published:
        published["description"] = description
    return published


def _conversion(group: str, plural: str, kind: str, served: str, storage: str, node: Node,
                webhook: WebhookConverter | None = None, prune_unknown: bool = True) -> StorageConversion:
    """Strategy None: only apiVersion changes. Strategy Webhook: the CRD's webhook converts
    (one ConversionReview per object, list page or watch event), then the result is pruned for
    the version it is in. Objects read get the served version's defaults too (kube defaults on
    read, so a default added later shows on old objects)."""
    defaults = has_defaults(node)

    def to_storage(obj: Object) -> Object:
        return {**obj, "apiVersion": f"{group}/{storage}"}

    def from_storage(obj: Object) -> Object:
        converted = {**obj, "apiVersion": f"{group}/{served}"}
        if defaults:
            converted = copy.deepcopy(converted)
            apply_defaults(converted, node)
        return converted
    if webhook is None:
        return StorageConversion(group, plural, to_storage=to_storage, from_storage=from_storage,
                                 version=storage, kind=kind)

    async def from_storage_many(objs: list[Object]) -> list[Object]:
        converted = await webhook.convert(objs, f"{group}/{served}")
        for obj in converted:
            if prune_unknown:
                prune(obj, node)
            apply_defaults(obj, node)
        return converted

    async def to_storage_many(objs: list[Object]) -> list[Object]:
        return await webhook.convert(objs, f"{group}/{storage}")
    return StorageConversion(group, plural, to_storage=to_storage, from_storage=from_storage,
                             version=storage, kind=kind, to_storage_many=to_storage_many,
                             from_storage_many=from_storage_many)


def version_spec(crd: Object, version: Mapping[str, Any],
                 webhook: WebhookConverter | None = None) -> ResourceSpec:
    """The ResourceSpec serving one version of an accepted CRD (``webhook``: its conversion
    webhook, when its conversion strategy is Webhook)."""
    spec, names = crd["spec"], crd["status"]["acceptedNames"]
    group, name, kind = spec["group"], version["name"], names["kind"]
    openapi = (version.get("schema") or {}).get("openAPIV3Schema")
    node = compile_schema(openapi)
    rules = compile_rules(openapi)[0] if celvalidation.has_rules(openapi) else None
    subresources = version.get("subresources") or {}
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    component = schema_component(group, name, kind)
    published = _published_schema(openapi, "")
    keep_unknown = bool(spec.get("preserveUnknownFields"))
    if keep_unknown:
        _preserve_everything(published)
    selectable = {f["jsonPath"].lstrip("."): jsonpath.parse(f["jsonPath"])
                  for f in version.get("selectableFields") or ()}
    scale = subresources.get("scale")
    return ResourceSpec(
        group=group, version=name, kind=kind, plural=names["plural"],
        singular=names.get("singular") or kind.lower(),
        namespaced=spec.get("scope") == "Namespaced", schema_name=component,
        schemas={**meta_schemas(), component: published},
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        subresources=("status",) if "status" in subresources else (),
        strategy=CustomResourceStrategy(
            node, "status" in subresources, selectable, (group, names["plural"]),
            terminating=bool(crd["metadata"].get("deletionTimestamp")), prune=not keep_unknown,
            rules=rules),
        subresource_strategies={"status": CustomResourceStatusStrategy(node, rules)},
        table_columns=table_columns(version.get("additionalPrinterColumns") or DEFAULT_COLUMNS),
        selectable_fields=tuple(selectable),
        scale=ScaleSpec(scale["specReplicasPath"], scale["statusReplicasPath"],
                        scale.get("labelSelectorPath") or "") if scale else None,
        conversion=_conversion(group, names["plural"], kind, name, storage, node, webhook,
                               prune_unknown=not keep_unknown),
        unstructured=True,
        patch_types=PATCH_TYPES,
    )


def served_specs(crd: Object, resolver: Resolver | None = None) -> list[ResourceSpec]:
    """A ResourceSpec per served version of ``crd``; ``resolver`` finds a conversion webhook's
    service."""
    conversion = crd["spec"].get("conversion") or {}
    webhook = None
    if conversion.get("strategy") == "Webhook":
        webhook = WebhookConverter(crd["metadata"]["name"], conversion.get("webhook") or {}, resolver)
    return [version_spec(crd, v, webhook) for v in crd["spec"]["versions"] if v.get("served")]
