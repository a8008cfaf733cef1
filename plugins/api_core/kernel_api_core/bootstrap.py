"""The ``kubernetes`` Service in ``default``, its Endpoints and EndpointSlice, as kube-apiserver's
bootstrap controller keeps them (pkg/controlplane/controller/kubernetesservice and the endpoint
reconciler): clients in the cluster (``kubectl cluster-info``, in-cluster configs) find the API
server through them.

- Service: ClusterIP = the first address of the service range (10.0.0.1 by default), port 443
  named ``https`` targeting the secure port, labels ``component=apiserver``, ``provider=kubernetes``;
  only its ports and type are reconciled (the ClusterIP is immutable).
- Endpoints: the advertised address and the secure port (label
  ``endpointslice.kubernetes.io/skip-mirror=true``: the slice below is written directly).
- EndpointSlice (discovery.k8s.io/v1) ``kubernetes``, label ``kubernetes.io/service-name``.

Everything goes through the loopback client, so admission and validation apply as for any
client. The reconciler runs once before the server reports ready, then again whenever one of
the three objects changes (informers) and every ``interval`` seconds, as kube's does.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Any

import msgspec
import trio

from kernel.apimachinery import status
from kernel.server.loopback import LoopbackClient

log = logging.getLogger("kernel.bootstrap")

NAME, NAMESPACE = "kubernetes", "default"
DEFAULT_SERVICE_CIDR = "10.0.0.0/24"  # kube-apiserver's --service-cluster-ip-range default
SERVICE_PORT = 443  # kube-apiserver's APIServerServicePort
INTERVAL = 10.0  # kube's DefaultEndpointReconcilerInterval
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
Object = dict[str, Any]


def first_service_ip(cidrs: str) -> str:
    """The first usable address of the (primary) service range: ``10.0.0.0/24`` → 10.0.0.1."""
    primary = cidrs.split(",")[0].strip()
    return str(ipaddress.ip_network(primary, strict=False).network_address + 1)


class Collections(msgspec.Struct, frozen=True):
    """Where the three kinds are served (the core and discovery groups; tests use others)."""

    services: str = f"/api/v1/namespaces/{NAMESPACE}/services"
    endpoints: str = f"/api/v1/namespaces/{NAMESPACE}/endpoints"
    endpoint_slices: str = f"/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices"


class KubernetesService(msgspec.Struct, frozen=True):
    """What the three objects must say. Bodies carry no apiVersion/kind: the URL decides."""

    cluster_ip: str
    advertise_address: str
    secure_port: int
    service_port: int = SERVICE_PORT

    def _meta(self, labels: dict[str, str]) -> Object:
        return {"name": NAME, "namespace": NAMESPACE, "labels": labels}

    def service(self) -> Object:
        return {"metadata": self._meta({"component": "apiserver", "provider": "kubernetes"}),
                "spec": {"type": "ClusterIP", "clusterIP": self.cluster_ip,
                         "clusterIPs": [self.cluster_ip], "sessionAffinity": "None",
                         "ports": self.service_ports()}}

    def service_ports(self) -> list[Object]:
        return [{"name": "https", "protocol": "TCP", "port": self.service_port,
                 "targetPort": self.secure_port}]

    def endpoints(self) -> Object:
        return {"metadata": self._meta({SKIP_MIRROR: "true"}), "subsets": [{
            "addresses": [{"ip": self.advertise_address}],
            "ports": [{"name": "https", "port": self.secure_port, "protocol": "TCP"}]}]}

    def endpoint_slice(self) -> Object:
        family = "IPv6" if ipaddress.ip_address(self.advertise_address).version == 6 else "IPv4"
        return {"metadata": self._meta({SERVICE_NAME_LABEL: NAME}), "addressType": family,
                "endpoints": [{"addresses": [self.advertise_address],
                               "conditions": {"ready": True}}],
                "ports": [{"name": "https", "port": self.secure_port, "protocol": "TCP"}]}


def _service_drift(current: Object, desired: Object) -> Object | None:
    """getMasterServiceUpdateIfNeeded: only the ports and the type are put back."""
    spec, want = current.get("spec") or {}, desired["spec"]
    ports = [{k: p.get(k) for k in ("name", "protocol", "port", "targetPort")}
             for p in spec.get("ports") or []]
    if ports == want["ports"] and spec.get("type") == want["type"]:
        return None
    current["spec"] = {**spec, "ports": want["ports"], "type": want["type"]}
    return current


def _fields_drift(*fields: str) -> Callable[[Object, Object], Object | None]:
    """The stored object with ``fields`` and the labels put back, or None when they match."""

    def drift(current: Object, desired: Object) -> Object | None:
        meta = current.get("metadata") or {}
        labels = {**(meta.get("labels") or {}), **desired["metadata"]["labels"]}
        if all(current.get(f) == desired[f] for f in fields) and labels == meta.get("labels"):
            return None
        current.update({f: desired[f] for f in fields})
        current["metadata"] = {**meta, "labels": labels}
        return current
    return drift


async def _reconcile_one(client: LoopbackClient, collection: str, desired: Object,
                         drift: Callable[[Object, Object], Object | None]) -> str | None:
    try:
        current = await client.get(f"{collection}/{NAME}")
    except status.StatusError as error:
        if error.code != 404:
            raise
        await client.create(collection, desired)
        return "created"
    updated = drift(current, desired)
    if updated is None:
        return None
    await client.update(f"{collection}/{NAME}", updated)  # its resourceVersion: a 409 retries later
    return "updated"


async def reconcile(client: LoopbackClient, want: KubernetesService,
                    where: Collections = Collections()) -> dict[str, str]:
    """Create or repair the three objects; what was done to each, by collection path."""
    done: dict[str, str] = {}
    for collection, desired, drift in (
            (where.services, want.service(), _service_drift),
            (where.endpoints, want.endpoints(), _fields_drift("subsets")),
            (where.endpoint_slices, want.endpoint_slice(),
             _fields_drift("addressType", "endpoints", "ports"))):
        action = await _reconcile_one(client, collection, desired, drift)
        if action:
            done[collection] = action
    return done


#: The registries the objects live in, whose changes wake the reconciler.
RESOURCES = (("", "services"), ("", "endpoints"), ("discovery.k8s.io", "endpointslices"))
USER_AGENT = "kernel/bootstrap-kubernetes-service"


def desired_state(context: Any) -> KubernetesService:
    """From the options: the service range (api_core's allocation flag when present), the
    advertised address and the port actually served."""
    cidrs = getattr(context.options, "service_cluster_ip_range", None) or DEFAULT_SERVICE_CIDR
    if isinstance(cidrs, (list, tuple)):
        cidrs = ",".join(str(c) for c in cidrs)
    return KubernetesService(first_service_ip(str(cidrs)), context.options.advertise_address,
                             context.secure_port)


def served(context: Any, resources: tuple[tuple[str, str], ...] = RESOURCES) -> bool:
    """Whether every registry the objects need is there (their plugins may be left out)."""
    return set(resources) <= set(context.resources())


async def start(context: Any, where: Collections = Collections(),
                resources: tuple[tuple[str, str], ...] = RESOURCES,
                interval: float = INTERVAL) -> None:
    """A post-start hook: reconcile until it succeeds (the ``default`` namespace is created by a
    hook running alongside), then keep reconciling in the background."""
    client = context.loopback_client(USER_AGENT)
    want = desired_state(context)
    while True:
        try:
            done = await reconcile(client, want, where)
            break
        except status.StatusError as error:  # default not there yet (404), a racing write (409)
            log.debug("kubernetes service not reconciled yet: %s", error.message)
            await trio.sleep(0.05)
    log.info("kubernetes service %s at %s, endpoints %s:%d: %s", NAME, want.cluster_ip,
             want.advertise_address, want.secure_port, done or "unchanged")
    wake = _Wake()
    for group, resource in resources:
        context.informer(group, resource).add_event_handler(
            on_update=lambda old, new: wake.on(new), on_delete=wake.on)
    context.spawn("kubernetes-service-controller", _loop, client, want, where, wake, interval)


class _Wake:
    """Set when one of the ``kubernetes`` objects in ``default`` changes."""

    def __init__(self) -> None:
        self.event = trio.Event()

    def on(self, obj: Object) -> None:
        meta = obj.get("metadata") or {}
        if meta.get("name") == NAME and meta.get("namespace") == NAMESPACE:
            self.event.set()

    async def wait(self, timeout: float) -> None:
        with trio.move_on_after(timeout):
            await self.event.wait()
        self.event = trio.Event()


async def _loop(client: LoopbackClient, want: KubernetesService, where: Collections, wake: _Wake,
                interval: float) -> None:
    while True:
        await wake.wait(interval)
        try:
            done = await reconcile(client, want, where)
        except status.StatusError as error:  # kept for the next round, as kube's controller does
            log.warning("reconciling the kubernetes service: %s", error.message)
            continue
        if done:
            log.info("kubernetes service repaired: %s", done)
