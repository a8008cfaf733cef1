"""The ``kubernetes`` Service, Endpoints and EndpointSlice reconciler (plugins/api_core's
bootstrap.py) on a real server, against the ``test_bootstrap`` fixture plugin's minimal
resources; and ``--advertise-address``'s default."""

from __future__ import annotations

import pytest
import trio

from conftest import HANG_GUARD
from kernel import app
from kernel.server.advertise import default_advertise_address

PLUGINS = "--plugins=api_core,storage_memory,test_bootstrap"
ROOT = "/apis/bootstrap.test.kernel.dev/v1/namespaces/default"


@pytest.fixture
async def api(start_api, test_plugins_path, monkeypatch):
    monkeypatch.syspath_prepend(test_plugins_path)
    return await start_api(PLUGINS, "--advertise-address=192.0.2.10")


async def eventually(api, path: str, check) -> dict:
    """Poll until ``check(obj)`` holds (the reconciler reacts to watch events, not a clock)."""
    with trio.fail_after(HANG_GUARD):
        while True:
            response = await api.client.get(path)
            if response.status_code == 200 and check(response.json()):
                return response.json()
            await trio.sleep(0.02)


async def test_objects_exist_once_ready(api):
    port = api.server.secure_port
    service = await api.get(f"{ROOT}/services/kubernetes")
    assert service["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    assert service["spec"] == {"type": "ClusterIP", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
                               "sessionAffinity": "None",
                               "ports": [{"name": "https", "protocol": "TCP", "port": 443,
                                          "targetPort": port}]}
    endpoints = await api.get(f"{ROOT}/endpoints/kubernetes")
    assert endpoints["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    assert endpoints["subsets"] == [{"addresses": [{"ip": "192.0.2.10"}],
                                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]
    endpoint_slice = await api.get(f"{ROOT}/endpointslices/kubernetes")
    assert endpoint_slice["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert endpoint_slice["addressType"] == "IPv4"
    assert endpoint_slice["endpoints"] == [{"addresses": ["192.0.2.10"], "conditions": {"ready": True}}]
    assert endpoint_slice["ports"] == [{"name": "https", "port": port, "protocol": "TCP"}]


async def test_drift_is_repaired(api):
    port = api.server.secure_port
    endpoints = await api.get(f"{ROOT}/endpoints/kubernetes")
    endpoints["subsets"][0]["addresses"] = [{"ip": "203.0.113.9"}]
    response = await api.client.put(f"{ROOT}/endpoints/kubernetes", json=endpoints)
    assert response.status_code == 200, response.text
    await eventually(api, f"{ROOT}/endpoints/kubernetes",
                     lambda e: e["subsets"][0]["addresses"] == [{"ip": "192.0.2.10"}])

    assert (await api.client.delete(f"{ROOT}/endpointslices/kubernetes")).status_code == 200
    await eventually(api, f"{ROOT}/endpointslices/kubernetes",
                     lambda s: s["endpoints"][0]["addresses"] == ["192.0.2.10"])

    service = await api.get(f"{ROOT}/services/kubernetes")
    service["spec"]["ports"] = [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 80}]
    service["metadata"]["labels"]["extra"] = "kept"
    assert (await api.client.put(f"{ROOT}/services/kubernetes", json=service)).status_code == 200
    repaired = await eventually(api, f"{ROOT}/services/kubernetes",
                                lambda s: s["spec"]["ports"][0]["port"] == 443)
    assert repaired["spec"]["ports"] == [{"name": "https", "protocol": "TCP", "port": 443,
                                          "targetPort": port}]
    assert repaired["metadata"]["labels"]["extra"] == "kept"  # only ports and type are kube's


async def test_reconcile_is_idempotent(api):
    from kernel_api_core import bootstrap
    from kernel_test_plugins.bootstrap import COLLECTIONS

    want = bootstrap.desired_state(api.server.context)
    assert want.cluster_ip == "10.0.0.1" and want.advertise_address == "192.0.2.10"
    client = api.server.context.loopback_client()
    assert await bootstrap.reconcile(client, want, COLLECTIONS) == {}


def test_first_service_ip():
    from kernel_api_core.bootstrap import first_service_ip

    assert first_service_ip("10.0.0.0/24") == "10.0.0.1"
    assert first_service_ip("10.96.0.0/12,fd00::/108") == "10.96.0.1"
    assert first_service_ip("fd00:10::/108") == "fd00:10::1"


def test_advertise_address_default():
    assert default_advertise_address("10.1.2.3") == "10.1.2.3"  # a specific bind address
    chosen = default_advertise_address("0.0.0.0")
    assert chosen  # the host's routed address, or the bind address on a machine without one
    if chosen != "0.0.0.0":
        import ipaddress

        assert not ipaddress.ip_address(chosen).is_loopback


def test_advertise_address_flag(tmp_path):
    argv = ["--advertise-address=not-an-ip"]
    run_options = app.build_options(argv)
    _, errors = app.parse(run_options, argv)
    assert any("--advertise-address" in e for e in errors), errors
