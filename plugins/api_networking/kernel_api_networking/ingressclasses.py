"""ingressclasses (networking.k8s.io/v1 IngressClass): parameters scope defaults to Cluster,
controller is a domain-prefixed path and immutable."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.lazyre import lazy_compile
from kernel.apimachinery.validation import (FIELD_IMMUTABLE, FieldError, is_dns1123_subdomain, name_is_dns_label,
                                            regex_error, validate_path_segment_name)
from kernel.endpoints.table import AGE_COLUMN
from kernel.registry.resource import Object, ResourceSpec, TableColumn

from kernel_api_networking._common import GROUP, VERSION, SpecStrategy, spec_of
from kernel_api_networking.types import TYPES

KIND = "IngressClass"
SCHEMA_NAME = "io.k8s.api.networking.v1.IngressClass"
DESCRIPTION = ("IngressClass represents the class of the Ingress, referenced by the Ingress Spec. The "
               "`ingressclass.kubernetes.io/is-default-class` annotation can be used to indicate that an "
               "IngressClass should be considered default.")
DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
MAX_CONTROLLER = 250
SCOPES = ("Cluster", "Namespace")
_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
_HTTP_PATH_RE = lazy_compile(f"^{_HTTP_PATH_FMT}$")


def _controller_errors(controller: str) -> list[FieldError]:
    """IsDomainPrefixedPath at spec.controller."""
    at = "spec.controller"
    errs = [FieldError.too_long(at, "", MAX_CONTROLLER)] if len(controller) > MAX_CONTROLLER else []
    if not controller:
        return errs + [FieldError.required(at)]
    host, _, path = controller.partition("/")
    if not host or not path:
        return errs + [FieldError.invalid(at, controller, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs += [FieldError.invalid(at, host, m) for m in is_dns1123_subdomain(host)]
    if not _HTTP_PATH_RE.match(path):
        errs.append(FieldError.invalid(at, path, regex_error("Invalid path", _HTTP_PATH_FMT)))
    return errs


def _parameters_errors(params: Object | None) -> list[FieldError]:
    if params is None:
        return []
    at, errs = "spec.parameters", []
    if params.get("apiGroup") is not None:
        errs += [FieldError.invalid(f"{at}.apiGroup", params["apiGroup"], m)
                 for m in is_dns1123_subdomain(params["apiGroup"])]
    for key in ("kind", "name"):
        value = params.get(key) or ""
        if not value:
            errs.append(FieldError.required(f"{at}.{key}"))
        else:
            errs += [FieldError.invalid(f"{at}.{key}", value, m) for m in validate_path_segment_name(value)]
    scope = params.get("scope")
    if scope is None:
        return errs + [FieldError.required(f"{at}.scope")]
    if scope not in SCOPES:
        errs.append(FieldError.not_supported(f"{at}.scope", scope, SCOPES))
    elif scope == "Namespace":
        if params.get("namespace") is None:
            errs.append(FieldError.required(f"{at}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs += [FieldError.invalid(f"{at}.namespace", params["namespace"], m)
                     for m in name_is_dns_label(params["namespace"])]
    elif params.get("namespace") is not None:
        errs.append(FieldError.forbidden(f"{at}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs


class IngressClassStrategy(SpecStrategy):
    def default(self, obj: Object) -> None:
        params = spec_of(obj).get("parameters")
        if isinstance(params, dict) and params.get("scope") is None:  # SetDefaults_IngressClass
            params["scope"] = "Cluster"

    def validate(self, obj: Object) -> list[Any]:
        spec = spec_of(obj)
        return _controller_errors(spec.get("controller") or "") + _parameters_errors(spec.get("parameters"))

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        new_controller, old_controller = spec_of(obj).get("controller") or "", spec_of(old).get("controller") or ""
        errs = []
        if new_controller != old_controller:
            errs.append(FieldError.invalid("spec.controller", new_controller, FIELD_IMMUTABLE))
        return errs + self.validate(obj)


def _name(obj: Object) -> str:
    meta = obj.get("metadata") or {}
    default = (meta.get("annotations") or {}).get(DEFAULT_ANNOTATION) == "true"
    return meta.get("name", "") + (" (default)" if default else "")


def _parameters(obj: Object) -> str:
    params = spec_of(obj).get("parameters")
    if not params:
        return "<none>"
    kind = params.get("kind", "") + (f".{params['apiGroup']}" if params.get("apiGroup") is not None else "")
    return f"{kind}/{params.get('name', '')}"


TABLE_COLUMNS = (
    TableColumn("Name", "string", _name, format="name",
                description="Name must be unique within a namespace."),
    TableColumn("Controller", "string", lambda o: spec_of(o).get("controller") or "",
                description="Controller that is responsible for handling this class"),
    TableColumn("Parameters", "string", _parameters,
                description="A reference to a resource with additional parameters"),
    AGE_COLUMN,
)

ingressclass_spec = ResourceSpec(
    group=GROUP,
    version=VERSION,
    kind=KIND,
    plural="ingressclasses",
    singular="ingressclass",
    namespaced=False,
    **TYPES.spec_fields(KIND),
    strategy=IngressClassStrategy(),
    table_columns=TABLE_COLUMNS,
    description=DESCRIPTION,
)
