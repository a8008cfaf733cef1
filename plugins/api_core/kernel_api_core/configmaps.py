"""configmaps (v1 ConfigMap): schema, strategy and printer columns as kube-apiserver has them."""

from __future__ import annotations

from typing import Any

from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel_api_core import _data
from kernel_api_core.types import CORE_V1
from kernel.apimachinery.validation import FieldError

SCHEMA_NAME = "io.k8s.api.core.v1.ConfigMap"

_DATA_DESCRIPTION = (
    "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' "
    "or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data "
    "must not overlap with the keys in the BinaryData field, this is enforced during validation process.")



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
    **CORE_V1.spec_fields("ConfigMap"),
    short_names=("cm",),
    strategy=ConfigMapStrategy(),
    table_columns=TABLE_COLUMNS,
    description=CORE_V1.description("ConfigMap"),
)
