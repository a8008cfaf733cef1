"""CustomResourceDefinition validation with kube's messages and field paths
(apiextensions-apiserver pkg/apis/apiextensions/validation and pkg/apiserver/schema's
structural checks)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kernel.apimachinery.commonvalidation import is_dns1035_label
from kernel.apimachinery.validation import FieldError, GoLiteral, is_dns1123_subdomain

from kernel_api_apiextensions import jsonpath
from kernel_api_apiextensions.celcompilation import compile_rules, go_json
from kernel_webhook import validate_client_config

Object = dict[str, Any]
SCOPES = ("Cluster", "Namespaced")
COLUMN_TYPES = "boolean,date,integer,number,string"
COLUMN_FORMATS = "byte,date,date-time,double,float,int32,int64,name,password"
#: What the root schema may hold when the status subresource is on: kube's Go field names, and
#: their JSON names.
ROOT_FIELDS_WITH_STATUS = {
    "Description": "description", "Type": "type", "Format": "format", "Title": "title",
    "Maximum": "maximum", "ExclusiveMaximum": "exclusiveMaximum", "Minimum": "minimum",
    "ExclusiveMinimum": "exclusiveMinimum", "MaxLength": "maxLength", "MinLength": "minLength",
    "Pattern": "pattern", "MaxItems": "maxItems", "MinItems": "minItems",
    "UniqueItems": "uniqueItems", "MultipleOf": "multipleOf", "Required": "required",
    "Items": "items", "Properties": "properties", "ExternalDocs": "externalDocs",
    "Example": "example", "XPreserveUnknownFields": "x-kubernetes-preserve-unknown-fields",
    "XValidations": "x-kubernetes-validations"}


def _status_root(schema: Mapping[str, Any], path: str) -> list[FieldError]:
    """With the status subresource, status is cut out of the root schema: only an object root
    with plain value validations is allowed."""
    if schema.get("type") not in (None, "", "object"):
        return [FieldError.invalid(f"{path}.type", schema["type"], 'only "object" is allowed as '
                                   "the type at the root of the schema if the status "
                                   "subresource is enabled")]
    allowed = set(ROOT_FIELDS_WITH_STATUS.values())
    if any(key not in allowed and value not in (None, False, "", [], {})
           for key, value in schema.items()):
        names = " ".join(ROOT_FIELDS_WITH_STATUS)
        return [FieldError.invalid(path, GoLiteral("apiextensions.JSONSchemaProps{...}"),
                                   f"only [{names}] fields are allowed at the root of the "
                                   "schema if the status subresource is enabled")]
    return []


def _versions_value(versions: Any) -> GoLiteral:
    names = ", ".join(f'{{Name:"{v.get("name", "")}"}}' for v in versions or ()
                      if isinstance(v, Mapping))
    return GoLiteral(f"[]apiextensions.CustomResourceDefinitionVersion{{{names}}}")


def validate_names(names: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("plural", "singular"):
        value = names.get(key) or ""
        if not value:
            errs.append(FieldError.required(f"{path}.{key}"))
        elif problems := is_dns1035_label(value):
            errs.append(FieldError.invalid(f"{path}.{key}", value, ",".join(problems)))
    for key in ("kind", "listKind"):
        value = names.get(key) or ""
        if not value:
            errs.append(FieldError.required(f"{path}.{key}"))
        elif problems := is_dns1035_label(value.lower()):
            errs.append(FieldError.invalid(f"{path}.{key}", value,
                                           "may have mixed case, but should otherwise match: "
                                           + ",".join(problems)))
    for i, short in enumerate(names.get("shortNames") or ()):
        if problems := is_dns1035_label(short):
            errs.append(FieldError.invalid(f"{path}.shortNames[{i}]", short, ",".join(problems)))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(FieldError.invalid(f"{path}.listKind", names["listKind"],
                                       "kind and listKind may not be the same"))
    return errs


def _structural(schema: Mapping[str, Any], path: str, level: str) -> list[FieldError]:
    """pkg/apiserver/schema validateStructuralInvariants and completeness, for one node."""
    errs: list[FieldError] = []
    kind = schema.get("type") or ""
    if kind == "array" and not isinstance(schema.get("items"), Mapping):
        errs.append(FieldError.required(f"{path}.items", "must be specified"))
    if isinstance(schema.get("items"), Mapping):
        errs += _structural(schema["items"], f"{path}.items", "item")
    for key, child in (schema.get("properties") or {}).items():
        if isinstance(child, Mapping):
            errs += _structural(child, f"{path}.properties[{key}]", "field")
    extra = schema.get("additionalProperties")
    if extra is not None and extra is not True and schema.get("properties"):
        errs.append(FieldError.forbidden(f"{path}.additionalProperties",
                                         "additionalProperties and properties are mutual exclusive"))
    if extra is not None and level == "root":
        errs.append(FieldError.forbidden(f"{path}.additionalProperties", "must not be used at the root"))
    if isinstance(extra, Mapping):
        errs += _structural(extra, f"{path}.additionalProperties", "field")
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    if embedded and kind != "object":
        errs.append(FieldError.required(f"{path}.type", "must be object if x-kubernetes-embedded-resource is true")
                    if not kind else FieldError.invalid(
                        f"{path}.type", kind, "must be object if x-kubernetes-embedded-resource is true"))
    elif not kind and not schema.get("x-kubernetes-int-or-string") \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        where = {"root": "at the root", "item": "for specified array items",
                 "field": "for specified object fields"}[level]
        errs.append(FieldError.required(f"{path}.type", f"must not be empty {where}"))
    if level == "root" and kind and kind != "object":
        errs.append(FieldError.invalid(f"{path}.type", kind, "must be object at the root"))
    if schema.get("pattern"):
        try:
            re.compile(schema["pattern"])
        except re.error as error:
            errs.append(FieldError.invalid(f"{path}.pattern", schema["pattern"],
                                           f"must be a valid regular expression, but isn't: {error}"))
    list_type = schema.get("x-kubernetes-list-type")
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        errs.append(FieldError.not_supported(f"{path}.x-kubernetes-list-type", list_type,
                                             ["atomic", "set", "map"]))
    if list_type == "map" and not schema.get("x-kubernetes-list-map-keys"):
        errs.append(FieldError.required(f"{path}.x-kubernetes-list-map-keys",
                                        "must not be empty if x-kubernetes-list-type is map"))
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(FieldError.invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False,
                                       "must be true or undefined"))
    if level == "root":
        errs += _root_metadata(schema, path)
    return errs


def _root_metadata(schema: Mapping[str, Any], path: str) -> list[FieldError]:
    metadata = (schema.get("properties") or {}).get("metadata")
    if not isinstance(metadata, Mapping):
        return []
    extra = set(metadata) - {"type", "properties", "description"}
    fields = set(metadata.get("properties") or {}) - {"name", "generateName"}
    if extra or fields or metadata.get("type", "object") != "object":
        return [FieldError.forbidden(f"{path}.properties[metadata]",
                                     "must not specify anything other than name and generateName, "
                                     "but metadata is implicitly specified")]
    return []


def _has_default(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    children = [*(schema.get("properties") or {}).values(), schema.get("items"),
                schema.get("additionalProperties")]
    return "default" in schema or any(_has_default(c) for c in children)


def validate_columns(columns: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, column in enumerate(columns or ()):
        where = f"{path}[{i}]"
        if not column.get("name"):
            errs.append(FieldError.required(f"{where}.name"))
        kind = column.get("type")
        if not kind:
            errs.append(FieldError.required(f"{where}.type", f"must be one of {COLUMN_TYPES}"))
        elif kind not in COLUMN_TYPES.split(","):
            errs.append(FieldError.invalid(f"{where}.type", kind, f"must be one of {COLUMN_TYPES}"))
        fmt = column.get("format")
        if fmt and fmt not in COLUMN_FORMATS.split(","):
            errs.append(FieldError.invalid(f"{where}.format", fmt, f"must be one of {COLUMN_FORMATS}"))
        if not column.get("jsonPath"):
            errs.append(FieldError.required(f"{where}.JSONPath"))
        else:
            try:
                jsonpath.parse(column["jsonPath"])
            except jsonpath.JSONPathError as error:
                errs.append(FieldError.invalid(f"{where}.JSONPath", column["jsonPath"], str(error)))
    return errs


def _selectable(fields: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, field in enumerate(fields or ()):
        where = f"{path}[{i}].jsonPath"
        value = field.get("jsonPath") or ""
        if not value:
            errs.append(FieldError.required(where))
            continue
        try:
            jsonpath.parse(value)
        except jsonpath.JSONPathError as error:
            errs.append(FieldError.invalid(where, value, f"is an invalid path: {error}"))
            continue
        if value.startswith(".metadata"):
            errs.append(FieldError.invalid(where, value, "must not point to fields in metadata"))
    return errs


def _schema_errors(schema: Any, status: bool, path: str) -> list[FieldError]:
    """A version's ``schema`` (``path``: ``spec.validation`` when every version has the same
    schema, as kube's internal CRD holds it then, else ``spec.versions[i].schema``)."""
    if not isinstance(schema, Mapping):
        return [FieldError.required(f"{path}.openAPIV3Schema")]
    errs: list[FieldError] = []
    if status:
        errs += _status_root(schema, f"{path}.openAPIV3Schema")
    structural = _structural(schema, f"{path}.openAPIV3Schema", "root")
    errs += structural
    if schema.get("nullable"):
        errs.append(FieldError.forbidden(f"{path}.openAPIV3Schema.nullable",
                                         "nullable cannot be true at the root"))
    if not structural:  # kube compiles rules only against a valid structural schema
        errs += compile_rules(schema, f"{path}.openAPIV3Schema")[1]
    return errs


def validate_version(version: Mapping[str, Any], path: str, schema_path: str | None) -> list[FieldError]:
    """One version; its schema too unless ``schema_path`` is None (validated at spec.validation)."""
    errs: list[FieldError] = []
    name = version.get("name") or ""
    if problems := is_dns1035_label(name):
        errs.append(FieldError.invalid(f"{path}.name", name, ",".join(problems)))
    if schema_path is not None:
        status = (version.get("subresources") or {}).get("status") is not None
        errs += _schema_errors((version.get("schema") or {}).get("openAPIV3Schema"), status,
                               schema_path)
    errs += validate_columns(version.get("additionalPrinterColumns"),
                             f"{path}.additionalPrinterColumns")
    errs += _selectable(version.get("selectableFields"), f"{path}.selectableFields")
    return errs


def _versions_errors(versions: list[Any], path: str) -> list[FieldError]:
    """Per-version checks; a schema every version shares is checked once, at spec.validation."""
    schemas = [(v.get("schema") or {}) for v in versions]
    shared = (bool(versions) and isinstance(schemas[0].get("openAPIV3Schema"), Mapping)
              and all(s == schemas[0] for s in schemas))
    errs: list[FieldError] = []
    if shared:
        status = any((v.get("subresources") or {}).get("status") is not None for v in versions)
        errs += _schema_errors(schemas[0].get("openAPIV3Schema"), status, f"{path}.validation")
    for i, version in enumerate(versions):
        where = f"{path}.versions[{i}]"
        errs += validate_version(version, where, None if shared else f"{where}.schema")
    return errs


def validate_spec(spec: Mapping[str, Any], path: str = "spec") -> list[FieldError]:
    errs: list[FieldError] = []
    group = spec.get("group") or ""
    if not group:
        errs.append(FieldError.required(f"{path}.group"))
    elif problems := is_dns1123_subdomain(group):
        errs.append(FieldError.invalid(f"{path}.group", group, ",".join(problems)))
    elif len(group.split(".")) < 2:
        errs.append(FieldError.invalid(f"{path}.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        errs.append(FieldError.required(f"{path}.scope"))
    elif scope not in SCOPES:
        errs.append(FieldError.not_supported(f"{path}.scope", scope, SCOPES))
    versions = spec.get("versions") or []
    errs += _versions_errors(versions, path)
    names = [v.get("name") for v in versions]
    if len(set(names)) != len(names):
        errs.append(FieldError.invalid(f"{path}.versions", _versions_value(versions),
                                       "must contain unique version names"))
    if sum(1 for v in versions if v.get("storage")) != 1:
        errs.append(FieldError.invalid(f"{path}.versions", _versions_value(versions),
                                       "must have exactly one version marked as storage version"))
    errs += validate_names(spec.get("names") or {}, f"{path}.names")
    if spec.get("preserveUnknownFields") and any(
            _has_default((v.get("schema") or {}).get("openAPIV3Schema")) for v in versions):
        errs.append(FieldError.invalid(f"{path}.preserveUnknownFields", True,
                                       "must be false in order to use defaults in the schema"))
    errs += validate_conversion(spec.get("conversion"), f"{path}.conversion")
    if spec.get("preserveUnknownFields") and (spec.get("conversion") or {}).get("strategy") == "Webhook":
        errs.append(FieldError.invalid(f"{path}.conversion.strategy", "Webhook",
                                       "must be None if spec.preserveUnknownFields is true"))
    return errs


def validate_conversion(conversion: Any, path: str) -> list[FieldError]:
    """validateCustomResourceConversion. Paths name the internal type's fields, as kube reports
    them: ``webhookClientConfig`` and ``conversionReviewVersions`` under ``spec.conversion``."""
    if not isinstance(conversion, Mapping):
        return []
    errs: list[FieldError] = []
    strategy = conversion.get("strategy") or ""
    if not strategy:
        errs.append(FieldError.required(f"{path}.strategy", ""))
    elif strategy not in ("None", "Webhook"):
        errs.append(FieldError.not_supported(f"{path}.strategy", strategy, ["None", "Webhook"]))
    webhook = conversion.get("webhook")
    config = (webhook or {}).get("clientConfig") if isinstance(webhook, Mapping) else None
    versions = (webhook or {}).get("conversionReviewVersions") if isinstance(webhook, Mapping) else None
    if strategy != "Webhook":
        if config is not None:
            errs.append(FieldError.forbidden(f"{path}.webhookClientConfig",
                                             "should not be set when strategy is not set to Webhook"))
        if versions:
            errs.append(FieldError.forbidden(f"{path}.conversionReviewVersions",
                                             "should not be set when strategy is not set to Webhook"))
        return errs
    if config is None:
        errs.append(FieldError.required(f"{path}.webhookClientConfig",
                                        "required when strategy is set to Webhook"))
    else:
        errs += validate_client_config(config, f"{path}.webhookClientConfig")
    return errs + _review_versions(versions or [], f"{path}.conversionReviewVersions")


def _review_versions(versions: list[Any], path: str) -> list[FieldError]:
    if not versions:
        return [FieldError.required(path, "")]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, version in enumerate(versions):
        if version in seen:
            errs.append(FieldError.invalid(f"{path}[{i}]", version, "duplicate version"))
            continue
        seen.add(version)
        errs += [FieldError.invalid(f"{path}[{i}]", version, problem)
                 for problem in is_dns1035_label(version)]
    if not seen & {"v1", "v1beta1"}:
        errs.append(FieldError.invalid(path, go_json(versions), "must include at least one of v1, v1beta1"))
    return errs


def validate_crd(crd: Object) -> list[FieldError]:
    """ValidateCustomResourceDefinition (object metadata is the registry's)."""
    spec = crd.get("spec") or {}
    errs: list[FieldError] = []
    name = (crd.get("metadata") or {}).get("name") or ""
    wanted = f"{(spec.get('names') or {}).get('plural', '')}.{spec.get('group', '')}"
    if name and name != wanted:
        errs.append(FieldError.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    errs += validate_spec(spec)
    stored = (crd.get("status") or {}).get("storedVersions")
    served = {v.get("name") for v in spec.get("versions") or ()}
    for i, version in enumerate(stored or ()):
        if version not in served:
            errs.append(FieldError.invalid(
                f"status.storedVersions[{i}]", version,
                f"missing from spec.versions; {version} was previously a storage version, and must "
                f"remain in spec.versions until a storage migration ensures no data remains "
                f"persisted in {version} and removes {version} from status.storedVersions"))
    return errs


def validate_crd_update(crd: Object, old: Object) -> list[FieldError]:
    errs = validate_crd(crd)
    scope, old_scope = (crd.get("spec") or {}).get("scope"), (old.get("spec") or {}).get("scope")
    if scope != old_scope:
        errs.append(FieldError.invalid("spec.scope", scope, "field is immutable"))
    return errs
