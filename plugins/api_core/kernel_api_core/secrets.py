"""secrets (v1 Secret): schema, strategy and printer columns as kube-apiserver has them."""

from __future__ import annotations

import base64
import json
from typing import Any

from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel_api_core import _data
from kernel_api_core.types import CORE_V1
from kernel.apimachinery.validation import FieldError

SCHEMA_NAME = "io.k8s.api.core.v1.Secret"

OPAQUE = "Opaque"
SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"
DOCKERCFG, DOCKERCFG_KEY = "kubernetes.io/dockercfg", ".dockercfg"
DOCKER_CONFIG_JSON, DOCKER_CONFIG_JSON_KEY = "kubernetes.io/dockerconfigjson", ".dockerconfigjson"
BASIC_AUTH = "kubernetes.io/basic-auth"
SSH_AUTH, SSH_PRIVATE_KEY = "kubernetes.io/ssh-auth", "ssh-privatekey"
TLS, TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY = "kubernetes.io/tls", "tls.crt", "tls.key"

_TYPE_DESCRIPTION = ("Used to facilitate programmatic handling of secret data. More info: "
                     "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types")
_DATA_DESCRIPTION = (
    "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. "
    "The serialized form of the secret data is a base64 encoded string, representing the arbitrary "
    "(possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4")


def _go_json_object_error(raw: bytes) -> str | None:
    """Roughly what json.Unmarshal(raw, &map[string]interface{}{}) says, or None if it decodes."""
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return "unexpected end of JSON input"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        if e.pos >= len(text):
            return "unexpected end of JSON input"
        return f"invalid character {text[e.pos]!r} looking for beginning of value"
    if value is None or isinstance(value, dict):
        return None
    kind = {bool: "bool", str: "string", list: "array"}.get(type(value), "number")
    return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"


class SecretStrategy(Strategy):
    """pkg/registry/core/secret plus the v1 defaulting and conversion kube applies on decode:
    ``stringData`` is merged into ``data`` (and never stored) and ``type`` defaults to Opaque.

    ObjectMeta (name as a DNS-1123 subdomain, labels, ...) is validated by the generic handlers.
    """

    allow_create_on_update = False
    allow_unconditional_update = True

    @staticmethod
    def _default(obj: Object) -> None:
        string_data = obj.pop("stringData", None)
        if string_data:
            data = obj.get("data") or {}
            for key, value in string_data.items():
                data[key] = base64.b64encode((value or "").encode()).decode()
            obj["data"] = data
        if not obj.get("type"):
            obj["type"] = OPAQUE
        if not obj.get("data"):  # an omitempty map: an empty (or null) one is not stored
            obj.pop("data", None)

    def prepare_for_create(self, obj: Object) -> None:
        self._default(obj)

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        self._default(obj)

    def validate(self, obj: Object) -> list[Any]:
        data = obj.get("data") or {}
        errs: list[FieldError] = _data.key_errors(data, "data")
        if _data.bytes_size(data) > _data.MAX_SIZE:
            errs.append(FieldError.too_long("data", "", _data.MAX_SIZE))
        return errs + self._validate_type(obj, data)

    @staticmethod
    def _validate_type(obj: Object, data: dict[str, Any]) -> list[FieldError]:
        kind = obj.get("type") or ""
        if kind == SERVICE_ACCOUNT_TOKEN:
            # The token and uid are filled in later by the token controller; only the name is required.
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            if not annotations.get(SERVICE_ACCOUNT_NAME_KEY):
                return [FieldError.required(f"metadata.annotations[{SERVICE_ACCOUNT_NAME_KEY}]", "")]
        elif kind in (DOCKERCFG, DOCKER_CONFIG_JSON):
            key = DOCKERCFG_KEY if kind == DOCKERCFG else DOCKER_CONFIG_JSON_KEY
            if key not in data:
                return [FieldError.required(f"data[{key}]", "")]
            if (error := _go_json_object_error(_data.decoded(data[key]))) is not None:
                return [FieldError.invalid(f"data[{key}]", "<secret contents redacted>", error)]
        elif kind == BASIC_AUTH:
            # username or password may be empty, but one of them must be there
            if "username" not in data and "password" not in data:
                return [FieldError.required("data[username]", ""), FieldError.required("data[password]", "")]
        elif kind == SSH_AUTH:
            if not _data.decoded(data.get(SSH_PRIVATE_KEY)):
                return [FieldError.required(f"data[{SSH_PRIVATE_KEY}]", "")]
        elif kind == TLS:
            return [FieldError.required(f"data[{key}]", "") for key in (TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY)
                    if key not in data]
        return []

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        errs: list[FieldError] = []
        if (obj.get("type") or "") != (old.get("type") or ""):
            errs.append(FieldError.invalid("type", obj.get("type") or "", "field is immutable"))
        errs += _data.immutable_errors(obj, old, {"data": True})
        return errs + self.validate(obj)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        return {"type": obj.get("type") or ""}


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Type", "string", lambda o: o.get("type") or "", description=_TYPE_DESCRIPTION),
    TableColumn("Data", "string", lambda o: len(o.get("data") or {}), description=_DATA_DESCRIPTION),
    AGE_COLUMN,
)

secret_spec = ResourceSpec(
    group="",
    version="v1",
    kind="Secret",
    plural="secrets",
    singular="secret",
    namespaced=True,
    **CORE_V1.spec_fields("Secret"),
    strategy=SecretStrategy(),
    table_columns=TABLE_COLUMNS,
    selectable_fields=("type",),
    description=CORE_V1.description("Secret"),
)
