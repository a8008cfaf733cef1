"""EndpointSlices: addressType required and immutable, defaults, address checks, the
service-name label, and the table columns."""

from __future__ import annotations

import pytest

from kernel.testing import KernelProcess, start_kernel
from kernel_api_discovery import SERVICE_NAME_LABEL, endpointslice_spec

API = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("disc"), "--plugins=api_core,api_discovery,storage_memory")
    yield kernel
    kernel.stop()


def _slice(name: str, service: str = "web", **fields) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "labels": {SERVICE_NAME_LABEL: service}}, **fields}


def test_create_defaults_label_and_columns(kernel: KernelProcess) -> None:
    with kernel.client() as http:
        created = http.post(API, json=_slice("web-abc", addressType="IPv4", ports=[{"port": 80}, {"name": "m", "port": 9090}],
                                             endpoints=[{"addresses": [f"10.0.0.{i}"]} for i in range(1, 6)]))
        assert created.status_code == 201, created.text
        assert created.json()["ports"][0] == {"port": 80, "name": "", "protocol": "TCP"}
        assert http.post(API, json=_slice("other-1", "other", addressType="IPv4")).status_code == 201
        mine = http.get(API, params={"labelSelector": f"{SERVICE_NAME_LABEL}=web"}).json()["items"]
        assert [s["metadata"]["name"] for s in mine] == ["web-abc"]
        immutable = http.patch(f"{API}/web-abc", json={"addressType": "IPv6"}, headers=MERGE)
        assert immutable.status_code == 422
        assert immutable.json()["message"] == ('EndpointSlice.discovery.k8s.io "web-abc" is invalid: addressType: '
                                               'Invalid value: "IPv6": field is immutable')
        moved = http.patch(f"{API}/web-abc", json={"endpoints": [{"addresses": ["10.0.0.9"]}]}, headers=MERGE).json()
        assert moved["metadata"]["generation"] == 2
    lines = kernel.kubectl("get", "endpointslices", "web-abc").stdout.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert lines[1].split()[:4] == ["web-abc", "IPv4", "80,9090", "10.0.0.9"]
    row = endpointslice_spec.table_columns[3].cell(_slice("x", endpoints=[{"addresses": [f"10.0.0.{i}"]} for i in range(5)]))
    assert row == "10.0.0.0,10.0.0.1,10.0.0.2 + 2 more..."


def test_address_type_is_required_and_addresses_checked(kernel: KernelProcess) -> None:
    with kernel.client() as http:
        response = http.post(API, json=_slice("bad", endpoints=[{"addresses": []}]))
        assert response.status_code == 422
        assert response.json()["details"]["causes"] == [
            {"reason": "FieldValueRequired", "field": "addressType", "message": "Required value"},
            {"reason": "FieldValueRequired", "field": "endpoints[0].addresses",
             "message": "Required value: must contain at least 1 address"}]
        assert http.get(f"{API}/bad").status_code == 404
    errors = endpointslice_spec.strategy.validate(_slice("s", addressType="IPv4", endpoints=[
        {"addresses": ["fd00::1", "127.0.0.1", "nope"]}], ports=[{"name": "a", "protocol": "ICMP"}]))
    assert [str(e) for e in errors] == [
        'ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        'endpoints[0].addresses: Invalid value: "fd00::1": must be an IPv4 address',
        'endpoints[0].addresses[1]: Invalid value: "127.0.0.1": may not be in the loopback range '
        "(127.0.0.0/8, ::1/128)",
        'endpoints[0].addresses[2]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)"]
