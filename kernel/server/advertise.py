"""The address the server advertises to the cluster (``--advertise-address``'s default).

As kube-apiserver's DefaultAdvertiseAddress: the bind address when it names one interface, else
(unspecified or loopback) the host's own address, the one its default route leaves from
(kube's ChooseHostInterface reads the routing table for it; connecting a UDP socket asks the
kernel the same question and sends nothing). No route: the first non-loopback address of the
host name, then the bind address as a last resort (a machine without a network).
"""

from __future__ import annotations

import ipaddress
import socket

_PROBE = {socket.AF_INET: "192.0.2.1", socket.AF_INET6: "2001:db8::1"}  # documentation ranges


def _routed_address(family: socket.AddressFamily) -> str | None:
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((_PROBE[family], 9))
            address = probe.getsockname()[0]
    except OSError:
        return None
    ip = ipaddress.ip_address(address)
    return None if ip.is_loopback or ip.is_unspecified else str(ip)


def _host_name_address() -> str | None:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP)
    except OSError:
        return None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not ip.is_loopback and not ip.is_link_local and not ip.is_unspecified:
            return str(ip)
    return None


def default_advertise_address(bind_address: str) -> str:
    ip = ipaddress.ip_address(bind_address)
    if not ip.is_unspecified and not ip.is_loopback:
        return bind_address
    family = socket.AF_INET6 if ip.version == 6 and ip.is_unspecified else socket.AF_INET
    return _routed_address(family) or _host_name_address() or bind_address
