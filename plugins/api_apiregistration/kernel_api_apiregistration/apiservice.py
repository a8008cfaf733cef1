"""apiservices (apiregistration.k8s.io/v1 APIService): validation and columns as kube-aggregator has them.

The schemas are kube's OpenAPI v3 components of the group (``generated/v1.json``, taken from
``api/openapi-spec/v3/apis__apiregistration.k8s.io__v1_openapi.json`` of Kubernetes v1.36).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kernel.apimachinery.lazyre import lazy_compile
from kernel.apimachinery.validation import FieldError
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn

GROUP, VERSION, KIND = "apiregistration.k8s.io", "v1", "APIService"
SCHEMA_NAME = "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService"
SCHEMAS = json.loads((Path(__file__).parent / "generated" / "v1.json").read_text())["schemas"]
_DNS_LABEL = lazy_compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = lazy_compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def condition(obj: Object, kind: str = "Available") -> dict[str, Any] | None:
    for entry in (obj.get("status") or {}).get("conditions") or ():
        if entry.get("type") == kind:
            return entry
    return None


def _validate_spec(name: str, spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    version, _, group = name.partition(".")
    if spec.get("group", "") != group:
        errs.append(FieldError.invalid("spec.group", spec.get("group", ""),
                                       f"must be {group!r} (the name is \"version.group\")"))
    if spec.get("version", "") != version:
        errs.append(FieldError.invalid("spec.version", spec.get("version", ""), f"must be {version!r}"))
    if not _DNS_LABEL.match(version):
        errs.append(FieldError.invalid("spec.version", version, "must be a DNS-1035 label"))
    if group and not _DNS_SUBDOMAIN.match(group):
        errs.append(FieldError.invalid("spec.group", group, "must be a DNS-1123 subdomain"))
    for field in ("groupPriorityMinimum", "versionPriority"):
        value = spec.get(field) or 0
        if not 0 < value <= 20000:
            errs.append(FieldError.invalid(f"spec.{field}", value, "must be positive and less than 20000"))
    service = spec.get("service")
    if service is None:
        if spec.get("caBundle") or spec.get("insecureSkipTLSVerify"):
            errs.append(FieldError.invalid("spec.service", None,
                                           "must be set when caBundle or insecureSkipTLSVerify is set"))
        return errs
    if not service.get("namespace"):
        errs.append(FieldError.required("spec.service.namespace"))
    if not service.get("name"):
        errs.append(FieldError.required("spec.service.name"))
    port = service.get("port", 443)
    if not isinstance(port, int) or not 0 < port < 65536:
        errs.append(FieldError.invalid("spec.service.port", port, "port is not valid"))
    if spec.get("insecureSkipTLSVerify") and spec.get("caBundle"):
        errs.append(FieldError.invalid("spec.insecureSkipTLSVerify", True,
                                       "may not be true if caBundle is present"))
    return errs


def validate_name(name: str, prefix: bool) -> list[str]:
    """kube's ValidateAPIServiceName: a path segment (``v1.`` names the core group)."""
    if name in (".", ".."):
        return [f'may not be {name!r}']
    return [f'may not contain {c!r}' for c in ("/", "%") if c in name]


class APIServiceStrategy(Strategy):
    """kube-aggregator's registry/apiservice strategy: status is the controllers' (reset on create,
    kept on update); the name must be ``version.group`` (``v1.`` for the core group)."""

    allow_create_on_update = False
    allow_unconditional_update = True

    def prepare_for_create(self, obj: Object) -> None:
        obj["status"] = {}
        (obj.setdefault("spec", {})).setdefault("service", None)
        if obj["spec"]["service"] is None:
            obj["spec"].pop("service")
        elif "port" not in obj["spec"]["service"]:
            obj["spec"]["service"]["port"] = 443

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        obj["status"] = old.get("status") or {}
        service = (obj.get("spec") or {}).get("service")
        if service is not None and "port" not in service:
            service["port"] = 443

    def validate(self, obj: Object) -> list[Any]:
        name = (obj.get("metadata") or {}).get("name", "")
        if "." not in name:
            return [FieldError.invalid("metadata.name", name, 'must be in the form: "version.group"')]
        return _validate_spec(name, obj.get("spec") or {})

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return self.validate(obj)


def _service(obj: Object) -> str:
    service = (obj.get("spec") or {}).get("service")
    return f"{service.get('namespace')}/{service.get('name')}" if service else "Local"


def _available(obj: Object) -> str:
    entry = condition(obj)
    if entry is None:
        return "Unknown"
    if entry.get("status") == "True":
        return "True"
    return f"{entry.get('status')} ({entry.get('reason', '')})"


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Service", "string", _service, description="The reference to the service that hosts this API endpoint."),
    TableColumn("Available", "string", _available, description="Whether this service is available."),
    AGE_COLUMN,
)

apiservice_spec = ResourceSpec(
    group=GROUP,
    version=VERSION,
    kind=KIND,
    plural="apiservices",
    singular="apiservice",
    namespaced=False,
    schema_name=SCHEMA_NAME,
    schemas=SCHEMAS,
    categories=("api-extensions",),
    subresources=("status",),
    strategy=APIServiceStrategy(),
    name_validator=validate_name,
    table_columns=TABLE_COLUMNS,
    description=SCHEMAS[SCHEMA_NAME].get("description", ""),
)
