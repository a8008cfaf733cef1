"""services (v1 Service): defaulting, validation, ClusterIP/NodePort allocation, columns.

Allocation happens where kube does it, in the REST layer around the storage write
(Strategy.begin_create/begin_update/after_delete): after validation and admission, so a refused
object reserves nothing, and released again when the write fails.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from kernel.apimachinery import status as st
from kernel.apimachinery.validation import FieldError, invalid
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Finish, Object, ResourceSpec, Strategy, TableColumn
from kernel_api_core import _core
from kernel_api_core.allocator import AllocationError, RangeFull, ServiceAllocators, family_of
from kernel_api_core.types import CORE_V1

KIND = "Service"
SCHEMA_NAME = "io.k8s.api.core.v1.Service"
DESCRIPTION = ("Service is a named abstraction of software service (for example, mysql) consisting of "
               "local port (for example 3306) that the proxy listens on, and the selector that "
               "determines which pods will answer requests sent through the proxy.")

TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")
AFFINITIES = ("ClientIP", "None")
FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
TRAFFIC_POLICIES = ("Cluster", "Local")
HEADLESS = "None"
LOAD_BALANCER_WIDTH = 16

Loader = Callable[[], Awaitable[list[Object]]]


def _spec(obj: Object) -> Object:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


# -- defaulting (SetDefaults_Service) -----------------------------------------------------------

def default_service(svc: Object) -> None:
    spec = svc.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec["sessionAffinity"] = spec.get("sessionAffinity") or "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        if client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    spec["type"] = spec.get("type") or "ClusterIP"
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port["protocol"] = port.get("protocol") or "TCP"
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")
    if spec["type"] in ("NodePort", "LoadBalancer") or spec.get("externalIPs"):
        spec["externalTrafficPolicy"] = spec.get("externalTrafficPolicy") or "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    # clusterIP and clusterIPs say the same thing: fill the one left out (kube's normalizeClusterIPs)
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    elif spec.get("clusterIPs") and not spec.get("clusterIP"):
        spec["clusterIP"] = spec["clusterIPs"][0]


def needs_node_ports(spec: Object) -> bool:
    return spec.get("type") == "NodePort" or (
        spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False)


# -- validation (ValidateService) ---------------------------------------------------------------

def _ip_errors(ip: Any, path: str) -> list[FieldError]:
    try:
        ipaddress.ip_address(ip)
    except (TypeError, ValueError):
        return [FieldError.invalid(path, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def validate_service(svc: Object) -> list[FieldError]:
    spec = _spec(svc)
    errs: list[FieldError] = []
    kind = spec.get("type")
    errs += _core.check_enum(kind, "spec.type", TYPES)
    ports = spec.get("ports") or []
    if kind != "ExternalName" and spec.get("clusterIP") != HEADLESS and not ports:
        errs.append(FieldError.required("spec.ports", ""))
    if kind == "ExternalName":
        name = spec.get("externalName") or ""
        if not name:
            errs.append(FieldError.required("spec.externalName", ""))
        if spec.get("clusterIP"):
            errs.append(FieldError.forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
    names: set[str] = set()
    seen: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        path = f"spec.ports[{i}]"
        if not isinstance(port, dict):
            errs.append(FieldError.invalid(path, port, "must be an object"))
            continue
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            errs.append(FieldError.required(f"{path}.name", ""))
        elif name:
            errs += _core.dns_label_errors(name, f"{path}.name")
            if name in names:
                errs.append(FieldError.duplicate(f"{path}.name", name))
            names.add(name)
        errs += _core.validate_port(port.get("port"), f"{path}.port")
        errs += _core.check_enum(port.get("protocol"), f"{path}.protocol", PROTOCOLS)
        key = (port.get("port"), port.get("protocol"))
        if key in seen:
            errs.append(FieldError.duplicate(path, {"port": key[0], "protocol": key[1]}))
        seen.add(key)
        target = port.get("targetPort")
        if isinstance(target, int) and not isinstance(target, bool):
            errs += _core.validate_port(target, f"{path}.targetPort")
        elif isinstance(target, str):
            errs += _core.validate_port_name(target, f"{path}.targetPort")
        node_port = port.get("nodePort")
        if node_port:
            if kind not in ("NodePort", "LoadBalancer"):
                errs.append(FieldError.forbidden(f"{path}.nodePort",
                                                 f"may not be used when `type` is '{kind}'"))
            errs += _core.validate_port(node_port, f"{path}.nodePort")
    errs += _core.check_enum(spec.get("sessionAffinity"), "spec.sessionAffinity", AFFINITIES)
    if spec.get("ipFamilyPolicy") is not None:
        errs += _core.check_enum(spec["ipFamilyPolicy"], "spec.ipFamilyPolicy", FAMILY_POLICIES)
    for i, family in enumerate(spec.get("ipFamilies") or []):
        errs += _core.check_enum(family, f"spec.ipFamilies[{i}]", ("IPv4", "IPv6"))
    if spec.get("internalTrafficPolicy") is not None:
        errs += _core.check_enum(spec["internalTrafficPolicy"], "spec.internalTrafficPolicy", TRAFFIC_POLICIES)
    if spec.get("externalTrafficPolicy"):
        errs += _core.check_enum(spec["externalTrafficPolicy"], "spec.externalTrafficPolicy", TRAFFIC_POLICIES)
    ips = spec.get("clusterIPs") or []
    if spec.get("clusterIP") and ips and spec["clusterIP"] != ips[0]:
        errs.append(FieldError.invalid("spec.clusterIPs", ips, "element [0] must match clusterIP"))
    for i, ip in enumerate(ips):
        if ip == HEADLESS:
            if len(ips) > 1:
                errs.append(FieldError.invalid(f"spec.clusterIPs[{i}]", ip,
                                               "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        elif ip:
            errs += _ip_errors(ip, f"spec.clusterIPs[{i}]")
    for i, ip in enumerate(spec.get("externalIPs") or []):
        errs += _ip_errors(ip, f"spec.externalIPs[{i}]")
    errs += _core.validate_label_map(spec.get("selector"), "spec.selector")
    return errs


def validate_service_update(new: Object, old: Object) -> list[FieldError]:
    errs = validate_service(new)
    new_spec, old_spec = _spec(new), _spec(old)
    old_ips = old_spec.get("clusterIPs") or []
    new_ips = new_spec.get("clusterIPs") or []
    # a ClusterIP is kept for good, unless the service becomes (or was) an ExternalName one
    if old_ips and new_spec.get("type") != "ExternalName" and old_spec.get("type") != "ExternalName":
        if new_ips[:1] != old_ips[:1]:
            errs.append(FieldError.invalid("spec.clusterIPs[0]", new_ips[0] if new_ips else "",
                                           "may not change once set"))
    return errs


# -- allocation ---------------------------------------------------------------------------------

def _family_errors(spec: Object, allocators: ServiceAllocators) -> list[FieldError]:
    errs = []
    for i, family in enumerate(spec.get("ipFamilies") or []):
        if family not in allocators.ips:
            errs.append(FieldError.invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster"))
    if spec.get("ipFamilyPolicy") == "RequireDualStack" and len(allocators.families) < 2:
        errs.append(FieldError.invalid("spec.ipFamilyPolicy", "RequireDualStack",
                                       "this cluster is not configured for dual-stack services"))
    return errs


def init_ip_families(spec: Object, allocators: ServiceAllocators) -> None:
    """initIPFamilyFields: ipFamilyPolicy SingleStack unless asked; ipFamilies from the requested
    IPs, else the cluster's primary family (both for a dual-stack policy on a dual-stack cluster)."""
    if spec.get("type") == "ExternalName":
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            spec.pop(key, None)
        return
    policy = spec.get("ipFamilyPolicy") or "SingleStack"
    spec["ipFamilyPolicy"] = policy
    families = list(spec.get("ipFamilies") or [])
    if not families:
        for ip in spec.get("clusterIPs") or []:
            family = family_of(ip)
            if family and family not in families:
                families.append(family)
    if not families:
        families = [allocators.families[0]]
    if policy != "SingleStack" and len(families) == 1 and len(allocators.families) == 2:
        families.append(next(f for f in allocators.families if f != families[0]))
    spec["ipFamilies"] = families[:1] if policy == "SingleStack" else families[:2]


class Allocation:
    """What one write reserved, to release if the write does not happen."""

    def __init__(self, allocators: ServiceAllocators) -> None:
        self.allocators = allocators
        self.ips: list[str] = []
        self.ports: list[int] = []

    def ip(self, family: str, requested: str | None) -> str:
        allocator = self.allocators.ips[family]
        if requested:
            allocator.allocate(requested)
            ip = requested
        else:
            ip = allocator.allocate_next()
        self.ips.append(ip)
        return ip

    def port(self, requested: int | None) -> int:
        if requested:
            self.allocators.node_ports.allocate(requested)
            port = requested
        else:
            port = self.allocators.node_ports.allocate_next()
        self.ports.append(port)
        return port

    def release(self) -> None:
        release_values(self.allocators, self.ips, self.ports)
        self.ips, self.ports = [], []


def release_values(allocators: ServiceAllocators, ips: list[str], ports: list[int]) -> None:
    for ip in ips:
        family = family_of(ip)
        if family in allocators.ips:
            allocators.ips[family].release(ip)
    for port in ports:
        allocators.node_ports.release(port)


def held_ips(spec: Object) -> list[str]:
    return [ip for ip in spec.get("clusterIPs") or [] if ip and ip != HEADLESS]


def held_ports(spec: Object) -> list[int]:
    return sorted({p["nodePort"] for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("nodePort")})


def allocate_ips(svc: Object, allocators: ServiceAllocators, allocation: Allocation, kept: list[str]) -> None:
    """ClusterIPs for each of the service's families; ``kept`` are IPs it already holds."""
    spec = svc["spec"]
    name = (svc.get("metadata") or {}).get("name", "")
    if spec.get("type") == "ExternalName":
        return
    requested = list(spec.get("clusterIPs") or [])
    if requested[:1] == [HEADLESS]:
        spec["clusterIP"], spec["clusterIPs"] = HEADLESS, [HEADLESS]
        return
    result = []
    for i, family in enumerate(spec["ipFamilies"]):
        want = requested[i] if i < len(requested) else ""
        if want and want in kept:
            result.append(want)
            continue
        if want and family_of(want) != family:
            raise invalid(KIND, name, [FieldError.invalid(
                f"spec.clusterIPs[{i}]", want, f"expected an {family} value as indicated by `ipFamilies[{i}]`")])
        try:
            result.append(allocation.ip(family, want or None))
        except RangeFull:
            raise st.internal_error(f'failed to allocate a serviceIP for Service '
                                    f'"{name}": range is full') from None
        except AllocationError as error:
            raise invalid(KIND, name, [FieldError.invalid(
                "spec.clusterIPs", requested, f"failed to allocate IP {want}: {error}")]) from None
    spec["clusterIPs"] = result
    spec["clusterIP"] = result[0]


def allocate_node_ports(svc: Object, allocators: ServiceAllocators, allocation: Allocation,
                        kept: list[int]) -> None:
    """initNodePorts: requested NodePorts honoured, others allocated; ports sharing a number (TCP
    and UDP of 53) share a NodePort."""
    spec = svc["spec"]
    name = (svc.get("metadata") or {}).get("name", "")
    ports = spec.get("ports") or []
    by_port: dict[Any, int] = {}
    for i, port in enumerate(ports):
        wanted = port.get("nodePort") or 0
        if not wanted and not needs_node_ports(spec):
            continue
        if not wanted and port.get("port") in by_port:
            port["nodePort"] = by_port[port["port"]]
            continue
        if wanted and (wanted in kept or wanted in by_port.values()):
            by_port.setdefault(port.get("port"), wanted)
            continue
        try:
            port["nodePort"] = allocation.port(wanted or None)
        except RangeFull:
            raise st.internal_error("failed to allocate a nodePort: range is full") from None
        except AllocationError as error:
            raise invalid(KIND, name, [FieldError.invalid(f"spec.ports[{i}].nodePort", wanted, str(error))]) from None
        by_port[port.get("port")] = port["nodePort"]


class ServiceStrategy(Strategy):
    """pkg/registry/core/service with its REST allocation; one per server (it holds the state)."""

    allow_create_on_update = False
    allow_unconditional_update = True

    def __init__(self, allocators: ServiceAllocators, loader: Loader | None = None) -> None:
        self.allocators = allocators
        self.loader = loader
        self._loaded = loader is None
        self._lock = trio.Lock()
        #: services deleted while the stored ones were being read (the list may still hold them)
        self._deleted_while_loading: list[Object] = []

    async def _ensure_loaded(self) -> None:
        """Rebuild the allocation from the stored services, once, before the first allocation."""
        if self._loaded:
            return
        async with self._lock:
            if self._loaded:
                return
            assert self.loader is not None
            for svc in await self.loader():
                spec = _spec(svc)
                for ip in held_ips(spec):
                    family = family_of(ip)
                    allocator = self.allocators.ips.get(family) if family else None
                    if allocator is not None and allocator.contains(ip) and not allocator.has(ip):
                        allocator.allocate(ip)
                for port in held_ports(spec):
                    if not self.allocators.node_ports.has(port):
                        try:
                            self.allocators.node_ports.allocate(port)
                        except AllocationError:
                            pass  # out of a narrowed range: kept on the service, not tracked
            for svc in self._deleted_while_loading:
                release_values(self.allocators, held_ips(_spec(svc)), held_ports(_spec(svc)))
            self._deleted_while_loading.clear()
            self._loaded = True

    def prepare_for_create(self, obj: Object) -> None:
        default_service(obj)
        obj["status"] = {"loadBalancer": {}}

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        default_service(obj)
        _core.carry(obj, old, "status")
        patch_allocated_values(obj, old)

    def validate(self, obj: Object) -> list[Any]:
        return validate_service(obj) + _family_errors(_spec(obj), self.allocators)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        return {"spec.clusterIP": _spec(obj).get("clusterIP") or "", "spec.type": _spec(obj).get("type") or ""}

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return validate_service_update(obj, old) + _family_errors(_spec(obj), self.allocators)

    async def begin_create(self, obj: Object, *, dry_run: bool) -> Finish | None:
        await self._ensure_loaded()
        init_ip_families(obj["spec"], self.allocators)
        allocation = Allocation(self.allocators)
        try:
            allocate_ips(obj, self.allocators, allocation, [])
            allocate_node_ports(obj, self.allocators, allocation, [])
        except BaseException:
            allocation.release()
            raise

        def finish(stored: bool) -> None:
            if not stored or dry_run:
                allocation.release()

        return finish

    async def begin_update(self, obj: Object, old: Object, *, dry_run: bool) -> Finish | None:
        await self._ensure_loaded()
        spec, old_spec = obj["spec"], _spec(old)
        init_ip_families(spec, self.allocators)
        allocation = Allocation(self.allocators)
        old_ips, old_ports = held_ips(old_spec), held_ports(old_spec)
        try:
            allocate_ips(obj, self.allocators, allocation, old_ips)
            allocate_node_ports(obj, self.allocators, allocation, old_ports)
        except BaseException:
            allocation.release()
            raise
        dropped_ips = [ip for ip in old_ips if ip not in held_ips(spec)]
        dropped_ports = [p for p in old_ports if p not in held_ports(spec)]

        def finish(stored: bool) -> None:
            if not stored or dry_run:
                allocation.release()
            else:  # what the old version held and the new one does not is free again
                release_values(self.allocators, dropped_ips, dropped_ports)

        return finish

    async def after_delete(self, obj: Object) -> None:
        if self._loaded:
            spec = _spec(obj)
            release_values(self.allocators, held_ips(spec), held_ports(spec))
        elif self._lock.locked():  # being loaded: released once the load is done
            self._deleted_while_loading.append(obj)


def patch_allocated_values(new: Object, old: Object) -> None:
    """kube's patchAllocatedValues: an update that leaves out an allocated value keeps it
    (kubectl apply and PUTs of a stale manifest send none)."""
    spec, old_spec = new.setdefault("spec", {}), _spec(old)
    if spec.get("type") != "ExternalName" and old_spec.get("clusterIPs") and not spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
        spec["clusterIPs"] = copy.deepcopy(old_spec["clusterIPs"])
        for key in ("ipFamilies", "ipFamilyPolicy"):
            if key in old_spec and not spec.get(key):
                spec[key] = copy.deepcopy(old_spec[key])
    if needs_node_ports(spec):
        old_ports = [p for p in old_spec.get("ports") or [] if isinstance(p, dict)]
        for port in spec.get("ports") or []:
            if isinstance(port, dict) and not port.get("nodePort"):
                for candidate in old_ports:
                    if (candidate.get("port"), candidate.get("protocol")) == (port.get("port"), port.get("protocol")) \
                            and candidate.get("nodePort"):
                        port["nodePort"] = candidate["nodePort"]
                        break


# -- table (printService) -----------------------------------------------------------------------

def external_ip(svc: Object) -> str:
    spec = _spec(svc)
    kind = spec.get("type")
    external = list(spec.get("externalIPs") or [])
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else _core.NONE
    if kind == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        lb = ",".join(sorted({i.get("ip") or i.get("hostname") for i in ingress
                               if i.get("ip") or i.get("hostname")}))
        if len(lb) > LOAD_BALANCER_WIDTH:  # kube truncates unless -o wide; the server can't know
            lb = lb[:LOAD_BALANCER_WIDTH - 3] + "..."
        if external:
            return ",".join(([*lb.split(",")] if lb else []) + external)
        return lb or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName") or ""
    return "<unknown>"


def port_string(svc: Object) -> str:
    pieces = []
    for port in _spec(svc).get("ports") or []:
        if port.get("nodePort"):
            pieces.append(f"{port.get('port')}:{port['nodePort']}/{port.get('protocol')}")
        else:
            pieces.append(f"{port.get('port')}/{port.get('protocol')}")
    return ",".join(pieces) or _core.NONE


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Type", "string", lambda o: _spec(o).get("type") or "",
                description="type determines how the Service is exposed. Defaults to ClusterIP."),
    TableColumn("Cluster-IP", "string", lambda o: ((_spec(o).get("clusterIPs") or [_core.NONE])[0]),
                description="clusterIP is the IP address of the service and is usually assigned randomly."),
    TableColumn("External-IP", "string", external_ip,
                description="externalIPs is a list of IP addresses for which nodes in the cluster will "
                            "also accept traffic for this service."),
    TableColumn("Port(s)", "string", port_string,
                description="The list of ports that are exposed by this service."),
    AGE_COLUMN,
    TableColumn("Selector", "string", lambda o: _core.format_labels(_spec(o).get("selector")), priority=1,
                description="Route service traffic to pods with label keys and values matching this "
                            "selector."),
)


def make_service_spec(allocators: ServiceAllocators, loader: Loader | None = None) -> ResourceSpec:
    """The services resource of one server: its strategy holds that server's allocation."""
    return ResourceSpec(
        group="",
        version="v1",
        kind=KIND,
        plural="services",
        singular="service",
        namespaced=True,
        **CORE_V1.spec_fields(KIND),
        short_names=("svc",),
        categories=("all",),
        # kube serves no deletecollection for services
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=("status",),
        strategy=ServiceStrategy(allocators, loader),
        table_columns=TABLE_COLUMNS,
        selectable_fields=("spec.clusterIP", "spec.type"),
        description=DESCRIPTION,
    )
