"""endpointslices (discovery.k8s.io/v1 EndpointSlice): defaulting, validation
(pkg/apis/discovery/validation; addressType required and immutable) and printer columns.

A slice belongs to a Service through the ``kubernetes.io/service-name`` label: clients (kubectl
describe service, kube-proxy) find a service's slices with that label selector.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kernel.apimachinery.validation import (FIELD_IMMUTABLE, FieldError, is_dns1123_label, is_dns1123_subdomain,
                                            is_label_value, is_qualified_name, validate_labels)
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn

from kernel_api_discovery.types import TYPES

GROUP, VERSION, KIND = "discovery.k8s.io", "v1", "EndpointSlice"
SCHEMA_NAME = "io.k8s.api.discovery.v1.EndpointSlice"
DESCRIPTION = ("EndpointSlice represents a set of service endpoints. Most EndpointSlices are created by "
               "the EndpointSlice controller to represent the Pods selected by Service objects. For a given "
               "service there may be multiple EndpointSlice objects which must be joined to produce the full "
               "set of endpoints; you can find all of the slices for a given service by listing "
               "EndpointSlices in the service's namespace whose `kubernetes.io/service-name` label contains "
               "the service's name.")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_ADDRESSES, MAX_PORTS, MAX_ENDPOINTS, MAX_TOPOLOGY_LABELS, MAX_HINTS = 100, 20000, 1000, 16, 8
_IP_MESSAGE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def default(obj: Object) -> None:
    """SetDefaults_EndpointPort: name "" and protocol TCP."""
    for port in obj.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("name", "")
            if port.get("protocol") is None:
                port["protocol"] = "TCP"


def _address_errors(address: str, address_type: str, at: str, list_path: str) -> list[FieldError]:
    if address_type == "FQDN":
        return [FieldError.invalid(at, address, m) for m in is_dns1123_subdomain(address)]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return [FieldError.invalid(at, address, _IP_MESSAGE)]
    errs = []
    if ip.version != (4 if address_type == "IPv4" else 6):
        errs.append(FieldError.invalid(list_path, address, f"must be an {address_type} address"))
    # ValidateEndpointIP
    if ip.is_unspecified:
        errs.append(FieldError.invalid(at, address, "may not be unspecified (0.0.0.0, ::)"))
    elif ip.is_loopback:
        errs.append(FieldError.invalid(at, address, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    elif ip.is_link_local:
        errs.append(FieldError.invalid(at, address, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    elif ip.is_multicast and (ip in ipaddress.ip_network("224.0.0.0/24") if ip.version == 4
                              else ip in ipaddress.ip_network("ff02::/16")):
        errs.append(FieldError.invalid(at, address, "may not be in the link-local multicast range "
                                                    "(224.0.0.0/24, ff02::/10)"))
    return errs


def _endpoint_errors(endpoints: list, address_type: str) -> list[FieldError]:
    if len(endpoints) > MAX_ENDPOINTS:
        return [FieldError.too_many("endpoints", len(endpoints), MAX_ENDPOINTS)]
    errs: list[FieldError] = []
    for i, endpoint in enumerate(endpoints):
        at = f"endpoints[{i}]"
        addresses = endpoint.get("addresses") or []
        if not addresses:
            errs.append(FieldError.required(f"{at}.addresses", "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            errs.append(FieldError.too_many(f"{at}.addresses", len(addresses), MAX_ADDRESSES))
        for j, address in enumerate(addresses):
            errs += _address_errors(address, address_type, f"{at}.addresses[{j}]", f"{at}.addresses")
        if endpoint.get("nodeName") is not None:
            errs += [FieldError.invalid(f"{at}.nodeName", endpoint["nodeName"], m)
                     for m in is_dns1123_subdomain(endpoint["nodeName"])]
        topology = endpoint.get("deprecatedTopology") or {}
        if len(topology) > MAX_TOPOLOGY_LABELS:
            errs.append(FieldError.too_many(f"{at}.deprecatedTopology", len(topology), MAX_TOPOLOGY_LABELS))
        errs += validate_labels(topology, f"{at}.deprecatedTopology")
        if endpoint.get("hostname") is not None:
            errs += [FieldError.invalid(f"{at}.hostname", endpoint["hostname"], m)
                     for m in is_dns1123_label(endpoint["hostname"])]
        zones = ((endpoint.get("hints") or {}).get("forZones")) or []
        if len(zones) > MAX_HINTS:
            errs.append(FieldError.too_many(f"{at}.hints.forZones", len(zones), MAX_HINTS))
        else:
            seen: set[str] = set()
            for k, zone in enumerate(zones):
                name = zone.get("name") or ""
                if name in seen:
                    errs.append(FieldError.duplicate(f"{at}.hints.forZones[{k}].name", name))
                seen.add(name)
                errs += [FieldError.invalid(f"{at}.hints.forZones[{k}].name", name, m) for m in is_label_value(name)]
    return errs


def _port_errors(ports: list) -> list[FieldError]:
    if len(ports) > MAX_PORTS:
        return [FieldError.too_many("ports", len(ports), MAX_PORTS)]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        name = port.get("name") or ""
        if name:
            errs += [FieldError.invalid(f"ports[{i}].name", name, m) for m in is_dns1123_label(name)]
        if name in names:
            errs.append(FieldError.duplicate(f"ports[{i}].name", name))
        names.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            errs.append(FieldError.required(f"ports[{i}].protocol"))
        elif protocol not in PROTOCOLS:
            errs.append(FieldError.not_supported(f"ports[{i}].protocol", protocol, PROTOCOLS))
        if port.get("appProtocol") is not None:
            errs += [FieldError.invalid(f"ports[{i}].appProtocol", port["appProtocol"], m)
                     for m in is_qualified_name(port["appProtocol"])]
    return errs


def validate(obj: Object) -> list[FieldError]:
    address_type = obj.get("addressType") or ""
    errs: list[FieldError] = []
    if not address_type:
        errs.append(FieldError.required("addressType"))
    elif address_type not in ADDRESS_TYPES:
        errs.append(FieldError.not_supported("addressType", address_type, ADDRESS_TYPES))
    return errs + _port_errors(obj.get("ports") or []) + _endpoint_errors(obj.get("endpoints") or [], address_type)


class EndpointSliceStrategy(Strategy):
    track_generation = True

    def default(self, obj: Object) -> None:
        default(obj)

    def validate(self, obj: Object) -> list[Any]:
        return validate(obj)

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        errs = validate(obj)
        if obj.get("endpoints") == old.get("endpoints"):  # stored endpoints stay valid as they are
            errs = [e for e in errs if not e.field.startswith("endpoints")]
        if obj.get("addressType") != old.get("addressType"):
            errs.append(FieldError.invalid("addressType", obj.get("addressType") or "", FIELD_IMMUTABLE))
        return errs


def _with_more(items: list[str], count: int, limit: int = 3) -> str:
    """listWithMoreString."""
    text = ",".join(items[:limit])
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def _ports(obj: Object) -> str:
    ports = obj.get("ports") or []
    shown = [str(p["port"]) if p.get("port") is not None else (p.get("name") or "*") for p in ports]
    return _with_more(shown, len(shown))


def _endpoints(obj: Object) -> str:
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return _with_more(addresses, len(addresses))


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("AddressType", "string", lambda o: o.get("addressType") or "",
                description="addressType specifies the type of address carried by this EndpointSlice."),
    TableColumn("Ports", "string", _ports, description="ports specifies the list of network ports exposed by "
                                                       "each endpoint in this slice."),
    TableColumn("Endpoints", "string", _endpoints, description="endpoints is a list of unique endpoints in "
                                                               "this slice."),
    AGE_COLUMN,
)

endpointslice_spec = ResourceSpec(
    group=GROUP,
    version=VERSION,
    kind=KIND,
    plural="endpointslices",
    singular="endpointslice",
    namespaced=True,
    **TYPES.spec_fields(KIND),
    strategy=EndpointSliceStrategy(),
    table_columns=TABLE_COLUMNS,
    description=DESCRIPTION,
)
