"""kube's IP and CIDR libraries (library/ip.go, library/cidr.go) on Python's ipaddress, which
like Go's netip rejects IPv4 octets with leading zeros. IPv4-mapped IPv6 and zones are refused.

Not here: ``string(ip)`` and ``string(cidr)`` — cel-cpp's environment config cannot add an
overload to the standard ``string`` function ("declared multiple times")."""

from __future__ import annotations

import ipaddress
from typing import Any

from .. import opaque
from ..decls import fn, glob, member

IP, CIDR = "net.IP", "net.CIDR"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Interface | ipaddress.IPv6Interface


def parse_ip(raw: str) -> Address:
    if "%" in raw:
        raise ValueError(f'IP address "{raw}" with zone value is not allowed')
    try:
        address = ipaddress.ip_address(raw)
    except ValueError as error:
        raise ValueError(f'IP Address "{raw}" parse error during conversion from string: {error}') from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise ValueError(f'IPv4-mapped IPv6 address "{raw}" is not allowed')
    return address


def parse_cidr(raw: str) -> Network:
    try:
        if "/" not in raw or "%" in raw:
            raise ValueError(f'netip.ParsePrefix("{raw}"): no \'/\'' if "/" not in raw else "zone")
        network = ipaddress.ip_interface(raw)
    except ValueError as error:
        raise ValueError(f"network address parse error during conversion from string: {error}") from None
    if isinstance(network, ipaddress.IPv6Interface) and network.ip.ipv4_mapped is not None:
        raise ValueError(f'IPv4-mapped IPv6 address "{raw}" is not allowed')
    return network


def _ip(raw: str) -> Any:
    return opaque.new(IP, value=str(parse_ip(raw)))


def _cidr(raw: str) -> Any:
    network = parse_cidr(raw)
    return opaque.new(CIDR, value=f"{network.ip}/{network.network.prefixlen}")


def _addr(value: Any) -> Address:
    return ipaddress.ip_address(value.value)


def _net(value: Any) -> Network:
    return ipaddress.ip_interface(value.value)


def _valid(parse: Any, raw: str) -> bool:
    try:
        parse(raw)
    except ValueError:
        return False
    return True


def _is_canonical(raw: str) -> bool:
    return str(parse_ip(raw)) == raw


def _global_unicast(address: Address) -> bool:
    # Go's IsGlobalUnicast: anything not unspecified, loopback, multicast, link-local or broadcast
    return not (address.is_unspecified or address.is_loopback or address.is_multicast
                or address.is_link_local or address == ipaddress.IPv4Address("255.255.255.255"))


def _link_local_multicast(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return address in ipaddress.IPv4Network("224.0.0.0/24")
    return address.is_multicast and (int(address) >> 112) & 0xF == 2


def _contains_ip(cidr: Any, other: Any) -> bool:
    address = parse_ip(other) if isinstance(other, str) else _addr(other)
    return address in _net(cidr).network


def _contains_cidr(cidr: Any, other: Any) -> bool:
    inner = parse_cidr(other) if isinstance(other, str) else _net(other)
    outer = _net(cidr).network
    return inner.version == outer.version and inner.network.subnet_of(outer)


def _masked(cidr: Any) -> Any:
    return opaque.new(CIDR, value=str(_net(cidr).network))


def _ip_of(cidr: Any) -> Any:
    return opaque.new(IP, value=str(_net(cidr).ip))


FUNCTIONS = [
    fn("ip", glob("string_to_ip", "string", IP, _ip), member("cidr_ip", CIDR, IP, _ip_of)),
    fn("family", member("ip_family", IP, "int", lambda v: _addr(v).version)),
    fn("ip.isCanonical", glob("ip_is_canonical", "string", "bool", _is_canonical)),
    fn("isUnspecified", member("ip_is_unspecified", IP, "bool", lambda v: _addr(v).is_unspecified)),
    fn("isLoopback", member("ip_is_loopback", IP, "bool", lambda v: _addr(v).is_loopback)),
    fn("isLinkLocalMulticast", member("ip_is_link_local_multicast", IP, "bool",
                                      lambda v: _link_local_multicast(_addr(v)))),
    fn("isLinkLocalUnicast", member("ip_is_link_local_unicast", IP, "bool", lambda v: _addr(v).is_link_local)),
    fn("isGlobalUnicast", member("ip_is_global_unicast", IP, "bool", lambda v: _global_unicast(_addr(v)))),
    fn("isIP", glob("is_ip", "string", "bool", lambda raw: _valid(parse_ip, raw))),
    fn("cidr", glob("string_to_cidr", "string", CIDR, _cidr)),
    fn("containsIP", member("cidr_contains_ip_string", f"{CIDR}, string", "bool", _contains_ip),
       member("cidr_contains_ip_ip", f"{CIDR}, {IP}", "bool", _contains_ip)),
    fn("containsCIDR", member("cidr_contains_cidr_string", f"{CIDR}, string", "bool", _contains_cidr),
       member("cidr_contains_cidr", f"{CIDR}, {CIDR}", "bool", _contains_cidr)),
    fn("prefixLength", member("cidr_prefix_length", CIDR, "int", lambda v: _net(v).network.prefixlen)),
    fn("masked", member("cidr_masked", CIDR, CIDR, _masked)),
    fn("isCIDR", glob("is_cidr", "string", "bool", lambda raw: _valid(parse_cidr, raw))),
]
