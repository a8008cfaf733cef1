"""ingresses (networking.k8s.io/v1 Ingress): validation (pkg/apis/networking/validation) and the
printer columns kubectl shows. There is no defaulting in v1: ``pathType`` is required."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery import commonvalidation as cv
from kernel.apimachinery.validation import FieldError, GoLiteral, is_dns1123_subdomain
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, StatusStrategy, TableColumn

from kernel_api_networking._common import GROUP, VERSION, SpecStrategy, spec_of
from kernel_api_networking.types import TYPES

KIND = "Ingress"
SCHEMA_NAME = "io.k8s.api.networking.v1.Ingress"
DESCRIPTION = ("Ingress is a collection of rules that allow inbound connections to reach the endpoints "
               "defined by a backend. An Ingress can be configured to give services externally-reachable "
               "urls, load balance traffic, terminate SSL, offer name based virtual hosting etc.")
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_PATH_SUFFIXES = ("/..", "/.")


def _host_errors(host: str, path: str) -> list[FieldError]:
    if "*" in host:
        return [FieldError.invalid(path, host, m) for m in cv.is_wildcard_dns1123_subdomain(host)]
    return [FieldError.invalid(path, host, m) for m in is_dns1123_subdomain(host)]


def validate_backend(backend: Object, path: str) -> list[FieldError]:
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [FieldError.invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        errs = []
        if not resource.get("kind"):
            errs.append(FieldError.required(f"{path}.resource.kind"))
        if not resource.get("name"):
            errs.append(FieldError.required(f"{path}.resource.name"))
        return errs
    if service is None:
        return [FieldError.invalid(path, "", "resource or service backend is required")]
    errs = []
    name = service.get("name") or ""
    if not name:
        errs.append(FieldError.required(f"{path}.service.name"))
    else:
        errs += [FieldError.invalid(f"{path}.service.name", name, m) for m in cv.is_dns1035_label(name)]
    port = service.get("port") or {}
    port_name, number = port.get("name") or "", port.get("number") or 0
    if port_name and number:
        errs.append(FieldError.invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs += [FieldError.invalid(f"{path}.service.port.name", port_name, m)
                 for m in cv.is_valid_port_name(port_name)]
    elif number:
        errs += [FieldError.invalid(f"{path}.service.port.number", number, m) for m in cv.is_valid_port_num(number)]
    else:
        errs.append(FieldError.required(path, "port name or number is required"))
    return errs


def _validate_path(item: Object, at: str) -> list[FieldError]:
    path_type, path = item.get("pathType"), item.get("path") or ""
    if path_type is None:
        return [FieldError.required(f"{at}.pathType", "pathType must be specified")]
    errs: list[FieldError] = []
    if path_type in ("Exact", "Prefix"):
        if not path.startswith("/"):
            errs.append(FieldError.invalid(f"{at}.path", path, "must be an absolute path"))
        errs += [FieldError.invalid(f"{at}.path", path, f"must not contain '{s}'")
                 for s in INVALID_PATH_SEQUENCES if s in path]
        errs += [FieldError.invalid(f"{at}.path", path, f"cannot end with '{s}'")
                 for s in INVALID_PATH_SUFFIXES if path.endswith(s)]
    elif path_type == "ImplementationSpecific":
        if path and not path.startswith("/"):
            errs.append(FieldError.invalid(f"{at}.path", path, "must be an absolute path"))
    else:
        errs.append(FieldError.not_supported(f"{at}.pathType", path_type, PATH_TYPES))
    return errs + validate_backend(item.get("backend") or {}, f"{at}.backend")


def validate_spec(spec: Object) -> list[FieldError]:
    """ValidateIngressSpec at ``spec``."""
    errs: list[FieldError] = []
    rules = spec.get("rules") or []
    if not rules and spec.get("defaultBackend") is None:
        errs.append(FieldError.invalid("spec", GoLiteral("null"), "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs += validate_backend(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(rules):
        host = rule.get("host") or ""
        if host:
            if cv.is_ip(host):
                errs.append(FieldError.invalid(f"spec.rules[{i}].host", host, "must be a DNS name, not an IP address"))
            errs += _host_errors(host, f"spec.rules[{i}].host")
        http = rule.get("http")
        if http is not None:
            paths = http.get("paths") or []
            if not paths:
                errs.append(FieldError.required(f"spec.rules[{i}].http.paths"))
            for j, item in enumerate(paths):
                errs += _validate_path(item, f"spec.rules[{i}].http.paths[{j}]")
    for i, tls in enumerate(spec.get("tls") or []):
        for j, host in enumerate(tls.get("hosts") or []):
            errs += _host_errors(host, f"spec.tls[{i}].hosts[{j}]")
        secret = tls.get("secretName") or ""
        if secret:
            errs += [FieldError.invalid(f"spec.tls[{i}].secretName", secret, m) for m in is_dns1123_subdomain(secret)]
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        errs += [FieldError.invalid("spec.ingressClassName", class_name, m) for m in is_dns1123_subdomain(class_name)]
    return errs


class IngressStrategy(SpecStrategy):
    has_status = True

    def validate(self, obj: Object) -> list[Any]:
        return validate_spec(spec_of(obj))


class IngressStatusStrategy(StatusStrategy):
    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        errs: list[FieldError] = []
        entries = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        for i, entry in enumerate(entries):
            at = f"status.loadBalancer.ingress[{i}]"
            ip, hostname = entry.get("ip") or "", entry.get("hostname") or ""
            if ip and not cv.is_ip(ip):
                errs.append(FieldError.invalid(f"{at}.ip", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
            if hostname:
                errs += [FieldError.invalid(f"{at}.hostname", hostname, m) for m in is_dns1123_subdomain(hostname)]
                if cv.is_ip(hostname):
                    errs.append(FieldError.invalid(f"{at}.hostname", hostname, "must be a DNS name, not an IP address"))
        return errs


def _hosts(obj: Object) -> str:
    """formatHosts: at most three hosts, then ``+ N more...``; ``*`` when none is named."""
    rules = spec_of(obj).get("rules") or []
    hosts = [r["host"] for r in rules[:3] if r.get("host")]
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if len(rules) > 3 else text


def _address(obj: Object) -> str:
    entries = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return ",".join(sorted({e.get("ip") or e.get("hostname") for e in entries if e.get("ip") or e.get("hostname")}))


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Class", "string", lambda o: spec_of(o).get("ingressClassName") or "<none>",
                description="The name of the IngressClass resource that should be used for additional configuration"),
    TableColumn("Hosts", "string", _hosts,
                description="Hosts that incoming requests are matched against before the ingress rule"),
    TableColumn("Address", "string", _address,
                description="Address is a list containing ingress points for the load-balancer"),
    TableColumn("Ports", "string", lambda o: "80, 443" if spec_of(o).get("tls") else "80",
                description="Ports of TLS configurations that open"),
    AGE_COLUMN,
)

ingress_spec = ResourceSpec(
    group=GROUP,
    version=VERSION,
    kind=KIND,
    plural="ingresses",
    singular="ingress",
    namespaced=True,
    **TYPES.spec_fields(KIND),
    short_names=("ing",),
    subresources=("status",),
    strategy=IngressStrategy(),
    subresource_strategies={"status": IngressStatusStrategy()},
    table_columns=TABLE_COLUMNS,
    description=DESCRIPTION,
)
