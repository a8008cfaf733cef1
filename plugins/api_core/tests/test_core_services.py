"""Services: defaulting, validation and allocation on dicts (the server-side tests are in
tests/e2e/test_core_v1.py)."""

from __future__ import annotations

import copy

import pytest
import trio

from kernel.apimachinery.status import StatusError
from kernel_api_core.allocator import IPAllocator, PortAllocator, RangeFull, ServiceAllocators
from kernel_api_core.services import ServiceStrategy, port_string, external_ip, validate_service


def _svc(name: str = "s", **spec) -> dict:
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"ports": [{"port": 80}], **spec}}


async def _create(strategy: ServiceStrategy, svc: dict) -> dict:
    strategy.prepare_for_create(svc)
    assert strategy.validate(svc) == []
    finish = await strategy.begin_create(svc, dry_run=False)
    assert finish is not None
    finish(True)
    return svc


def test_defaults() -> None:
    strategy = ServiceStrategy(ServiceAllocators(["10.0.0.0/24"], "30000-32767"))
    svc = _svc(ports=[{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}])
    strategy.prepare_for_create(svc)
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["internalTrafficPolicy"] == "Cluster" and "externalTrafficPolicy" not in spec
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80},
                             {"port": 53, "protocol": "UDP", "targetPort": "dns"}]
    assert svc["status"] == {"loadBalancer": {}}
    lb = _svc(type="LoadBalancer", sessionAffinity="ClientIP")
    strategy.prepare_for_create(lb)
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    assert lb["spec"]["externalTrafficPolicy"] == "Cluster"
    assert lb["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_validation() -> None:
    svc = _svc(type="Bogus", ports=[{"port": 0, "protocol": "TCP"}, {"port": 80, "protocol": "TCP", "name": "a",
                                                                    "nodePort": 30000}],
               selector={"app": "x y"})
    messages = [str(e) for e in validate_service(svc)]
    assert 'spec.type: Unsupported value: "Bogus": supported values: "ClusterIP", "ExternalName", ' \
           '"LoadBalancer", "NodePort"' in messages
    assert "spec.ports[0].name: Required value" in messages
    assert "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive" in messages
    assert "spec.ports[1].nodePort: Forbidden: may not be used when `type` is 'Bogus'" in messages
    assert any(m.startswith('spec.selector[app]: Invalid value: "x y"') for m in messages)
    assert [str(e) for e in validate_service({"spec": {"type": "ExternalName", "sessionAffinity": "None"}})] == [
        "spec.externalName: Required value"]


async def test_allocation_honours_requests_and_refuses_with_kubes_messages() -> None:
    strategy = ServiceStrategy(ServiceAllocators(["10.0.0.0/24"], "30000-32767"))
    first = await _create(strategy, _svc("a", clusterIP="10.0.0.10", type="NodePort",
                                         ports=[{"port": 80, "nodePort": 30080}]))
    assert first["spec"]["clusterIPs"] == ["10.0.0.10"] and first["spec"]["ports"][0]["nodePort"] == 30080
    assert first["spec"]["ipFamilies"] == ["IPv4"] and first["spec"]["ipFamilyPolicy"] == "SingleStack"
    for spec, message in [
        ({"clusterIP": "10.0.0.10"}, 'spec.clusterIPs: Invalid value: []string{"10.0.0.10"}: failed to '
                                     "allocate IP 10.0.0.10: provided IP is already allocated"),
        ({"clusterIP": "10.9.0.1"}, 'spec.clusterIPs: Invalid value: []string{"10.9.0.1"}: failed to allocate '
                                    "IP 10.9.0.1: the provided IP (10.9.0.1) is not in the valid range. The "
                                    "range of valid IPs is 10.0.0.0/24"),
        ({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]},
         "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"),
        ({"type": "NodePort", "ports": [{"port": 80, "nodePort": 8080}]},
         "spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of "
         "valid ports is 30000-32767"),
    ]:
        svc = _svc("b", **spec)
        strategy.prepare_for_create(svc)
        with pytest.raises(StatusError) as error:
            await strategy.begin_create(svc, dry_run=False)
        assert error.value.code == 422
        assert error.value.message == f'Service "b" is invalid: {message}'
    # nothing the refused creates reserved is held: only a's IP and port
    assert strategy.allocators.ips["IPv4"].bitmap.used == {9}
    assert strategy.allocators.node_ports.bitmap.used == {80}


async def test_headless_external_name_and_shared_node_ports() -> None:
    strategy = ServiceStrategy(ServiceAllocators(["10.0.0.0/24"], "30000-32767"))
    headless = await _create(strategy, _svc("h", clusterIP="None"))
    assert headless["spec"]["clusterIPs"] == ["None"]
    external = await _create(strategy, {"metadata": {"name": "e"},
                                        "spec": {"type": "ExternalName", "externalName": "db.example.com"}})
    assert "clusterIP" not in external["spec"] and "ipFamilies" not in external["spec"]
    dns = await _create(strategy, _svc("d", type="LoadBalancer", ports=[
        {"name": "tcp", "port": 53}, {"name": "udp", "port": 53, "protocol": "UDP"}]))
    ports = dns["spec"]["ports"]
    assert ports[0]["nodePort"] == ports[1]["nodePort"]
    assert port_string(dns) == f"53:{ports[0]['nodePort']}/TCP,53:{ports[0]['nodePort']}/UDP"
    assert external_ip(dns) == "<pending>" and external_ip(external) == "db.example.com"


async def test_dry_run_and_failed_writes_release() -> None:
    strategy = ServiceStrategy(ServiceAllocators(["10.0.0.0/24"], "30000-32767"))
    svc = _svc(type="NodePort")
    strategy.prepare_for_create(svc)
    finish = await strategy.begin_create(svc, dry_run=True)
    assert svc["spec"]["clusterIP"].startswith("10.0.0.")
    finish(False)
    failed = _svc(type="NodePort")
    strategy.prepare_for_create(failed)
    (await strategy.begin_create(failed, dry_run=False))(False)  # the storage write failed
    assert not strategy.allocators.ips["IPv4"].bitmap.used and not strategy.allocators.node_ports.bitmap.used


async def test_update_keeps_and_releases() -> None:
    strategy = ServiceStrategy(ServiceAllocators(["10.0.0.0/24"], "30000-32767"))
    old = await _create(strategy, _svc(type="NodePort"))
    port = old["spec"]["ports"][0]["nodePort"]
    new = {"metadata": old["metadata"], "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    strategy.prepare_for_update(new, old)  # what kubectl apply sends: no clusterIP, no nodePort
    assert strategy.validate_update(new, old) == []
    (await strategy.begin_update(new, old, dry_run=False))(True)
    assert new["spec"]["clusterIP"] == old["spec"]["clusterIP"] and new["spec"]["ports"][0]["nodePort"] == port
    to_cluster_ip = copy.deepcopy(new)
    to_cluster_ip["spec"]["type"] = "ClusterIP"
    for p in to_cluster_ip["spec"]["ports"]:
        p.pop("nodePort")
    strategy.prepare_for_update(to_cluster_ip, new)
    (await strategy.begin_update(to_cluster_ip, new, dry_run=False))(True)
    assert not strategy.allocators.node_ports.has(port)
    changed = copy.deepcopy(to_cluster_ip)
    changed["spec"]["clusterIP"] = changed["spec"]["clusterIPs"][0] = "10.0.0.200"
    assert [str(e) for e in strategy.validate_update(changed, to_cluster_ip)] == [
        'spec.clusterIPs[0]: Invalid value: "10.0.0.200": may not change once set']
    await strategy.after_delete(to_cluster_ip)
    assert not strategy.allocators.ips["IPv4"].bitmap.used


def test_ranges() -> None:
    ips = IPAllocator("10.0.0.0/29")  # .1 to .6; .1 is kept for the kubernetes service
    assert {ips.allocate_next() for _ in range(5)} == {f"10.0.0.{i}" for i in range(2, 7)}
    with pytest.raises(RangeFull):
        ips.allocate_next()
    ips.allocate("10.0.0.1")  # asked for by name, it is given
    big = IPAllocator("10.0.0.0/24")
    # dynamic allocation prefers the upper band: the first 16 IPs are left for explicit requests
    assert all(int(big.allocate_next().rsplit(".", 1)[1]) > 16 for _ in range(200))
    ports = PortAllocator(30000, 3)
    assert sorted(ports.allocate_next() for _ in range(3)) == [30000, 30001, 30002]
    dual = ServiceAllocators(["10.0.0.0/24", "fd00::/108"], "30000-32767")
    assert dual.families == ["IPv4", "IPv6"]


async def test_dual_stack_fields_are_carried() -> None:
    strategy = ServiceStrategy(ServiceAllocators(["10.0.0.0/24", "fd00::/108"], "30000-32767"))
    svc = await _create(strategy, _svc(ipFamilyPolicy="PreferDualStack"))
    assert svc["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
    assert len(svc["spec"]["clusterIPs"]) == 2 and ":" in svc["spec"]["clusterIPs"][1]
    v6 = await _create(strategy, _svc("six", ipFamilies=["IPv6"]))
    assert ":" in v6["spec"]["clusterIP"]


async def test_allocation_is_rebuilt_from_the_stored_services_once() -> None:
    stored = [{"metadata": {"name": "old"}, "spec": {"type": "NodePort", "clusterIP": "10.0.0.20",
                                                      "clusterIPs": ["10.0.0.20"],
                                                      "ports": [{"port": 80, "nodePort": 30020}]}}]
    loads = []

    async def loader() -> list[dict]:
        loads.append(1)
        await trio.sleep(0.01)
        return stored

    strategy = ServiceStrategy(ServiceAllocators(["10.0.0.0/24"], "30000-32767"), loader)
    clash = _svc("new", clusterIP="10.0.0.20")
    strategy.prepare_for_create(clash)
    with pytest.raises(StatusError) as error:
        await strategy.begin_create(clash, dry_run=False)
    assert "provided IP is already allocated" in error.value.message
    await _create(strategy, _svc("other"))
    assert loads == [1]
    assert strategy.allocators.node_ports.has(30020)
