"""endpoints (v1 Endpoints): port protocol defaulted, printEndpoints' column."""

from __future__ import annotations

import ipaddress

from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, TableColumn
from kernel_api_core import _core
from kernel_api_core._generic import SpecStatusStrategy
from kernel_api_core.types import CORE_V1

KIND = "Endpoints"
DESCRIPTION = ("Endpoints is a collection of endpoints that implement the actual service. Example:\n\n\t "
               "Name: \"mysvc\",\n\t Subsets: [\n\t   {\n\t     Addresses: [{\"ip\": \"10.10.1.1\"}, "
               "{\"ip\": \"10.10.2.2\"}],\n\t     Ports: [{\"name\": \"a\", \"port\": 8675}, {\"name\": "
               "\"b\", \"port\": 309}]\n\t   },\n\t   {\n\t     Addresses: [{\"ip\": \"10.10.3.3\"}],\n\t     "
               "Ports: [{\"name\": \"a\", \"port\": 93}, {\"name\": \"b\", \"port\": 76}]\n\t   },\n\t]")
SHOWN = 3


def default_endpoints(endpoints: Object) -> None:
    for subset in endpoints.get("subsets") or []:
        for port in (subset or {}).get("ports") or []:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"


def _host_port(ip: str, port: int) -> str:
    """net.JoinHostPort: an IPv6 address in brackets."""
    try:
        if ipaddress.ip_address(ip).version == 6:
            return f"[{ip}]:{port}"
    except ValueError:
        pass
    return f"{ip}:{port}"


def format_endpoints(endpoints: Object) -> str:
    """formatEndpoints: up to three addresses (ip:port per port), then "+ N more..."."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return _core.NONE
    shown: list[str] = []
    more, count = False, 0
    for subset in subsets:
        addresses = subset.get("addresses") or []
        ports = subset.get("ports") or []
        for port in ports or [None]:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == SHOWN:
                    more = True
                    break
                ip = addr.get("ip") or ""
                shown.append(ip if port is None else _host_port(ip, port.get("port")))
    text = ",".join(shown)
    return f"{text} + {count - SHOWN} more..." if more else text


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Endpoints", "string", format_endpoints,
                description="The set of all endpoints is the union of all subsets. Addresses are placed into "
                            "subsets according to the IPs they share. A single address with multiple ports, "
                            "some of which are ready and some of which are not (because they come from "
                            "different containers) will result in the address being displayed in different "
                            "subsets for the different ports. No address will appear in both Addresses and "
                            "NotReadyAddresses in the same subset. Sets of addresses and ports that comprise "
                            "a service."),
    AGE_COLUMN,
)

endpoints_spec = ResourceSpec(
    group="", version="v1", kind=KIND, plural="endpoints", singular="endpoints", namespaced=True,
    **CORE_V1.spec_fields(KIND),
    short_names=("ep",),
    strategy=SpecStatusStrategy(defaults=default_endpoints, has_status=False),
    table_columns=TABLE_COLUMNS,
    description=DESCRIPTION,
)
