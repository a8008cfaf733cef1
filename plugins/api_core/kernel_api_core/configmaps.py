"""configmaps (v1 ConfigMap): schema, strategy and printer columns as kube-apiserver has them."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery import schemas as meta
from kernel.apimachinery.resource import Object, ResourceSpec, Strategy, TableColumn
from kernel.apimachinery.table import AGE_COLUMN, NAME_COLUMN
from kernel_api_core import _data, protobuf
from kernel.apimachinery.validation import FieldError

SCHEMA_NAME = "io.k8s.api.core.v1.ConfigMap"

_DATA_DESCRIPTION = (
    "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' "
    "or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data "
    "must not overlap with the keys in the BinaryData field, this is enforced during validation process.")

CONFIGMAP_SCHEMA: dict[str, Any] = {
    "description": "ConfigMap holds configuration data for pods to consume.",
    "properties": {
        "apiVersion": meta.type_meta_properties()["apiVersion"],
        "binaryData": {
            "additionalProperties": {"format": "byte", "type": "string"},
            "description": (
                "BinaryData contains the binary data. Each key must consist of alphanumeric characters, "
                "'-', '_' or '.'. BinaryData can contain byte sequences that are not in the UTF-8 range. The "
                "keys stored in BinaryData must not overlap with the ones in the Data field, this is enforced "
                "during validation process. Using this field will require 1.10+ apiserver and kubelet."),
            "type": "object"},
        "data": meta.string_map(_DATA_DESCRIPTION),
        "immutable": {
            "description": (
                "Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated (only "
                "object metadata can be modified). If not set to true, the field can be modified at any "
                "time. Defaulted to nil."),
            "type": "boolean"},
        "kind": meta.type_meta_properties()["kind"],
        "metadata": meta.ref_field(meta.OBJECT_META, meta.OBJECT_METADATA_DESCRIPTION, default={}),
    },
    "type": "object",
    "x-kubernetes-group-version-kind": meta.gvk("", "v1", "ConfigMap"),
}


class ConfigMapStrategy(Strategy):
    """pkg/registry/core/configmap: no defaults; keys, size and ``immutable`` are validated.

    ObjectMeta (name as a DNS-1123 subdomain, labels, ...) is validated by the generic handlers.
    """

    allow_create_on_update = False
    allow_unconditional_update = True

    def canonicalize(self, obj: Object) -> None:
        # data and binaryData are omitempty maps: empty (or null) ones are not stored
        for key in ("data", "binaryData"):
            if not obj.get(key):
                obj.pop(key, None)

    def validate(self, obj: Object) -> list[Any]:
        data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
        errs: list[FieldError] = []
        for key in data:
            errs += _data.key_errors({key: None}, "data")
            if key in binary:
                errs.append(FieldError.invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        errs += _data.key_errors(binary, "binaryData")
        if _data.text_size(data) + _data.bytes_size(binary) > _data.MAX_SIZE:
            # kube passes an empty path: the limit is on the whole object
            errs.append(FieldError.too_long("", "", _data.MAX_SIZE))
        return errs

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        errs = _data.immutable_errors(obj, old, {"data": False, "binaryData": True})
        return errs + self.validate(obj)


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Data", "string",
                lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                description=_DATA_DESCRIPTION),
    AGE_COLUMN,
)

configmap_spec = ResourceSpec(
    group="",
    version="v1",
    kind="ConfigMap",
    plural="configmaps",
    singular="configmap",
    namespaced=True,
    schema_name=SCHEMA_NAME,
    schemas={
        SCHEMA_NAME: CONFIGMAP_SCHEMA,
        SCHEMA_NAME + "List": meta.list_schema(
            "", "v1", "ConfigMap", SCHEMA_NAME,
            "ConfigMapList is a resource containing a list of ConfigMap objects.",
            "Items is the list of ConfigMaps.",
            "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"),
        **meta.meta_schemas(),
    },
    short_names=("cm",),
    strategy=ConfigMapStrategy(),
    table_columns=TABLE_COLUMNS,
    description=CONFIGMAP_SCHEMA["description"],
    protobuf=protobuf.CONFIG_MAP,
)
