"""Where a remote APIService is served: its ``spec.service`` resolved as kube-aggregator does.

A Service with endpoints: a ready endpoint of its EndpointSlices (label
``kubernetes.io/service-name``), as kube's ResolveEndpoint picks one, else the first address of its
Endpoints (EndpointSlices refuse loopback addresses; Endpoints keep them, for a backend on the same
machine), on the port named as the service port ``spec.service.port``; the TLS server name is
``<name>.<namespace>.svc``, as kube's. For edge use without cluster networking, a Service of type ExternalName: its
``spec.externalName`` host on port ``spec.service.port`` (also the TLS server name), e.g.
``localhost`` for an API server on the same machine.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kernel.apimachinery.status import StatusError


class ResolveError(Exception):
    """The service cannot be reached; ``reason`` is the Available condition's reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Target(msgspec.Struct, frozen=True):
    host: str
    port: int
    server_name: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


async def _get(client: Any, path: str, reason: str, what: str) -> dict[str, Any]:
    try:
        return await client.get(path)
    except StatusError as error:
        if error.code == 404:
            raise ResolveError(reason, f"{what} not found") from None
        raise ResolveError(reason, f"{what}: {error}") from None


def _endpoint(endpoints: dict[str, Any], port_name: str, what: str) -> tuple[str, int]:
    for subset in endpoints.get("subsets") or ():
        ports = subset.get("ports") or []
        port = next((p for p in ports if (p.get("name") or "") == port_name), None)
        if port is None and len(ports) == 1 and not port_name:
            port = ports[0]
        addresses = subset.get("addresses") or []
        if port is not None and addresses:
            return addresses[0]["ip"], int(port["port"])
    raise ResolveError("MissingEndpoints", f"endpoints for {what} have no addresses with port name {port_name!r}")


async def resolve(client: Any, reference: dict[str, Any]) -> Target:
    """The backend of ``spec.service`` (``namespace``, ``name``, ``port``), through ``client``
    (the loopback client); ResolveError with kube's condition reasons."""
    namespace, name = reference.get("namespace", ""), reference.get("name", "")
    port = int(reference.get("port") or 443)
    what = f"service/{name} in \"{namespace}\""
    service = await _get(client, f"/api/v1/namespaces/{namespace}/services/{name}", "ServiceNotFound", what)
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        host = spec.get("externalName", "")
        return Target(host, port, host)
    service_port = next((p for p in spec.get("ports") or () if p.get("port") == port), None)
    if service_port is None:
        raise ResolveError("ServicePortError", f"{what} is not listening on port {port}")
    port_name = service_port.get("name") or ""
    found = await _from_slices(client, namespace, name, port_name)
    if found is None:
        endpoints = await _get(client, f"/api/v1/namespaces/{namespace}/endpoints/{name}",
                               "EndpointsNotFound", f"endpoints for {what}")
        found = _endpoint(endpoints, port_name, what)
    return Target(found[0], found[1], f"{name}.{namespace}.svc")


async def _from_slices(client: Any, namespace: str, name: str, port_name: str) -> tuple[str, int] | None:
    """A ready endpoint of the service's EndpointSlices on the named port (None: there is none)."""
    try:
        slices = await client.list(f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                                   {"labelSelector": f"kubernetes.io/service-name={name}"})
    except StatusError:
        return None  # no discovery.k8s.io here (a trimmed build): Endpoints only
    for item in slices.get("items", []):
        port = next((p.get("port") for p in item.get("ports") or ()
                     if (p.get("name") or "") == port_name and p.get("port")), None)
        if port is None:
            continue
        for endpoint in item.get("endpoints") or ():
            if (endpoint.get("conditions") or {}).get("ready", True) is not False and endpoint.get("addresses"):
                return endpoint["addresses"][0], int(port)
    return None
