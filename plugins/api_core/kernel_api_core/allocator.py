"""ClusterIP and NodePort allocation (kube's ipallocator and portallocator), in memory.

The allocation state is not stored on its own: it is rebuilt from the stored Services the first
time it is needed (so it survives restarts on a persistent store), then kept in step by the
Service strategy's begin_create/begin_update/after_delete. Allocation and release are synchronous
and trio runs one task at a time, so two concurrent creates can never take the same value.
(kube keeps a bitmap in etcd to share it between apiservers; one kernel serves a store alone.)
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The errors' messages are kube's (ipallocator.ErrAllocated, portallocator.ErrAllocated, ...).
IP_ALLOCATED = "provided IP is already allocated"
PORT_ALLOCATED = "provided port is already allocated"
RANGE_FULL = "range is full"


class AllocationError(Exception):
    """A requested value cannot be had; ``str()`` is kube's message."""


class RangeFull(AllocationError):
    def __init__(self) -> None:
        super().__init__(RANGE_FULL)


class Bitmap:
    """Offsets 0..size-1, allocated at random: first from ``[static, size)`` (kube's dynamic band,
    leaving the low values for explicit requests), then from the whole range."""

    def __init__(self, size: int, static: int = 0, reserved: frozenset[int] = frozenset()) -> None:
        self.size, self.static = size, static
        self.used: set[int] = set()
        #: offsets only an explicit request gets (the kubernetes service's IP)
        self.reserved = reserved

    def allocate(self, offset: int) -> bool:
        if offset in self.used:
            return False
        self.used.add(offset)
        return True

    def allocate_next(self) -> int:
        for low in (self.static, 0):
            if low >= self.size:
                continue
            start = random.randrange(low, self.size)  # a random scan, as kube's randomScanStrategy
            for i in range(self.size - low):
                offset = low + (start - low + i) % (self.size - low)
                if offset not in self.used and offset not in self.reserved:
                    self.used.add(offset)
                    return offset
        raise RangeFull()

    def release(self, offset: int) -> None:
        self.used.discard(offset)

    @property
    def free(self) -> int:
        return self.size - len(self.used | set(self.reserved))


def _static_band(size: int, minimum: int, step: int, maximum: int) -> int:
    """kube's calculateRangeOffset: min(max(min, size/step), max), none for tiny ranges."""
    if size < minimum:
        return 0
    return min(max(minimum, size // step), maximum)


class IPAllocator:
    """Service IPs of one CIDR: every address but the network's (and, for IPv4, the broadcast)."""

    def __init__(self, cidr: str) -> None:
        self.network: IPNetwork = ipaddress.ip_network(cidr, strict=False)
        self.family = "IPv4" if self.network.version == 4 else "IPv6"
        self.first = int(self.network.network_address) + 1
        # IPv4 loses the broadcast address; IPv6 has none (kube also caps huge ranges).
        size = self.network.num_addresses - (2 if self.network.version == 4 else 1)
        # the first IP is the kubernetes service's: never handed out unasked
        self.bitmap = Bitmap(max(min(size, 1 << 16), 0), _static_band(size, 16, 16, 256),
                             frozenset({0}) if size > 1 else frozenset())

    @property
    def cidr(self) -> str:
        return str(self.network)

    def _offset(self, ip: str) -> int:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            raise AllocationError(self.not_in_range(ip)) from None
        offset = int(address) - self.first
        if address.version != self.network.version or not 0 <= offset < self.bitmap.size:
            raise AllocationError(self.not_in_range(ip))
        return offset

    def not_in_range(self, ip: str) -> str:
        return f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {self.cidr}"

    def contains(self, ip: str) -> bool:
        try:
            self._offset(ip)
        except AllocationError:
            return False
        return True

    def allocate(self, ip: str) -> None:
        if not self.bitmap.allocate(self._offset(ip)):
            raise AllocationError(IP_ALLOCATED)

    def allocate_next(self) -> str:
        return str(ipaddress.ip_address(self.first + self.bitmap.allocate_next()))

    def peek(self) -> str:
        """A free IP, not taken (a dry run shows what a create would allocate)."""
        ip = self.allocate_next()
        self.release(ip)
        return ip

    def release(self, ip: str) -> None:
        if self.contains(ip):
            self.bitmap.release(self._offset(ip))

    def has(self, ip: str) -> bool:
        return self.contains(ip) and self._offset(ip) in self.bitmap.used


class PortAllocator:
    """NodePorts of ``base..base+size-1`` (``--service-node-port-range``)."""

    def __init__(self, base: int, size: int) -> None:
        self.base, self.size = base, size
        self.bitmap = Bitmap(size, _static_band(size, 16, 32, 128))

    @property
    def range(self) -> str:
        return f"{self.base}-{self.base + self.size - 1}"

    def _offset(self, port: int) -> int:
        offset = port - self.base
        if not 0 <= offset < self.size:
            raise AllocationError("provided port is not in the valid range. The range of valid ports "
                                  f"is {self.range}")
        return offset

    def allocate(self, port: int) -> None:
        if not self.bitmap.allocate(self._offset(port)):
            raise AllocationError(PORT_ALLOCATED)

    def allocate_next(self) -> int:
        return self.base + self.bitmap.allocate_next()

    def release(self, port: int) -> None:
        if self.base <= port < self.base + self.size:
            self.bitmap.release(port - self.base)

    def has(self, port: int) -> bool:
        return self.base <= port < self.base + self.size and port - self.base in self.bitmap.used


def parse_port_range(value: str) -> tuple[int, int]:
    """``30000-32767`` (or a single port, or ``base+size``) → (base, size), as net.ParsePortRange."""
    value = value.strip()
    if "+" in value:
        base, _, extra = value.partition("+")
        low, high = int(base), int(base) + int(extra)
    elif "-" in value:
        first, _, last = value.partition("-")
        low, high = int(first), int(last)
    else:
        low = high = int(value)
    if not (0 <= low <= high <= 65535):
        raise ValueError(f"invalid port range {value!r}")
    return low, high - low + 1


def parse_cidrs(value: str) -> list[IPNetwork]:
    """``--service-cluster-ip-range``: one CIDR, or two of different families (dual-stack)."""
    networks = [ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",")]
    if not 1 <= len(networks) <= 2:
        raise ValueError("at most two CIDRs, one per IP family")
    if len(networks) == 2 and networks[0].version == networks[1].version:
        raise ValueError("the two CIDRs must be of different IP families")
    return networks


def family_of(ip: str) -> str | None:
    try:
        return "IPv4" if ipaddress.ip_address(ip).version == 4 else "IPv6"
    except ValueError:
        return None


class ServiceAllocators:
    """One IP allocator per configured family (the first is the primary) and the NodePorts."""

    def __init__(self, cidrs: Iterable[str], node_port_range: str) -> None:
        self.ips = {a.family: a for a in (IPAllocator(c) for c in cidrs)}
        self.families = list(self.ips)
        self.node_ports = PortAllocator(*parse_port_range(node_port_range))
