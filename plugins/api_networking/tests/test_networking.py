"""networking.k8s.io/v1: kubectl create ingress, defaulting, kube's validation messages, status
only through /status, and the table columns of all three kinds."""

from __future__ import annotations

import json

import pytest

from kernel.testing import KernelProcess, start_kernel
from kernel_api_networking import ingress_spec, networkpolicy_spec

API = "/apis/networking.k8s.io/v1"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("net"), "--plugins=api_core,api_networking,storage_memory")
    yield kernel
    kernel.stop()


def test_kubectl_create_ingress(kernel: KernelProcess) -> None:
    kernel.kubectl("create", "ingress", "proto", "--rule=foo.com/bar=svc:80")


def test_kubectl_create_ingress_object_and_columns(kernel: KernelProcess) -> None:
    generated = kernel.kubectl("create", "ingress", "x", "--rule=foo.com/bar=svc:80", "--class=nginx",
                               "--dry-run=client", "-o", "json").stdout
    kernel.kubectl("create", "-f", "-", input=generated)
    obj = kernel.kubectl_json("get", "ingress", "x")
    assert obj["spec"]["rules"] == [{"host": "foo.com", "http": {"paths": [{
        "path": "/bar", "pathType": "Exact",
        "backend": {"service": {"name": "svc", "port": {"number": 80}}}}]}}]
    assert obj["metadata"]["generation"] == 1 and obj["status"] == {}
    lines = kernel.kubectl("get", "ing", "x").stdout.splitlines()
    assert lines[0].split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert lines[1].split()[:4] == ["x", "nginx", "foo.com", "80"]
    with kernel.client() as http:
        path = f"{API}/namespaces/default/ingresses/x"
        ignored = http.patch(path, json={"status": {"loadBalancer": {"ingress": [{"ip": "10.1.1.1"}]}}},
                             headers=MERGE).json()
        assert ignored["status"] == {}
        set_ = http.patch(path + "/status", json={"status": {"loadBalancer": {"ingress": [{"ip": "10.1.1.1"}]}}},
                          headers=MERGE)
        assert set_.status_code == 200 and set_.json()["metadata"]["generation"] == 1
    assert kernel.kubectl("get", "ing", "x").stdout.splitlines()[1].split()[3] == "10.1.1.1"


def test_ingress_path_type_is_required(kernel: KernelProcess) -> None:
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "bad"},
            "spec": {"rules": [{"host": "1.2.3.4", "http": {"paths": [{
                "path": "/a", "backend": {"service": {"name": "svc", "port": {"number": 80}}}}]}}]}}
    with kernel.client() as http:
        response = http.post(f"{API}/namespaces/default/ingresses", json=body)
        assert response.status_code == 422
        assert response.json()["details"]["causes"] == [
            {"reason": "FieldValueInvalid", "field": "spec.rules[0].host",
             "message": 'Invalid value: "1.2.3.4": must be a DNS name, not an IP address'},
            {"reason": "FieldValueRequired", "field": "spec.rules[0].http.paths[0].pathType",
             "message": "Required value: pathType must be specified"}]
        assert http.get(f"{API}/namespaces/default/ingresses/bad").status_code == 404


def test_ingress_backend_rules() -> None:
    spec = {"spec": {"defaultBackend": {"service": {"name": "Svc", "port": {}}}}}
    assert [str(e) for e in ingress_spec.strategy.validate(spec)] == [
        "spec.defaultBackend.service.name: Invalid value: \"Svc\": a DNS-1035 label must consist of lower case "
        "alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric "
        "character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        "spec.defaultBackend: Required value: port name or number is required"]
    assert [str(e) for e in ingress_spec.strategy.validate({"spec": {}})] == [
        "spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"]


def test_networkpolicy_defaults_and_column(kernel: KernelProcess) -> None:
    manifest = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"},
                "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                         "ingress": [{"ports": [{"port": 80}]}], "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}}
    kernel.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    obj = kernel.kubectl_json("get", "netpol", "np")
    assert obj["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert obj["spec"]["ingress"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert obj["spec"]["egress"][0]["ports"] == [{"port": 53, "protocol": "UDP"}]
    lines = kernel.kubectl("get", "networkpolicy", "np").stdout.splitlines()
    assert lines[0].split() == ["NAME", "POD-SELECTOR", "AGE"] and lines[1].split()[:2] == ["np", "app=web"]

    only_ingress = {"spec": {"podSelector": {}}}
    networkpolicy_spec.strategy.default(only_ingress)
    assert only_ingress["spec"]["policyTypes"] == ["Ingress"]
    errors = networkpolicy_spec.strategy.validate({"spec": {"podSelector": {}, "ingress": [
        {"ports": [{"port": 0, "protocol": "ICMP"}], "from": [{}]}], "policyTypes": ["Sideways"]}})
    assert [str(e) for e in errors] == [
        'spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
        "spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ingress[0].from[0]: Required value: must specify a peer",
        'spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"']


def test_ingressclass_default_scope_immutable_controller_and_columns(kernel: KernelProcess) -> None:
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
            "spec": {"controller": "k8s.io/ingress-nginx",
                     "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}}
    with kernel.client() as http:
        created = http.post(f"{API}/ingressclasses", json=body).json()
        assert created["spec"]["parameters"]["scope"] == "Cluster"
        changed = http.patch(f"{API}/ingressclasses/nginx", json={"spec": {"controller": "acme.io/other"}},
                             headers=MERGE)
        assert changed.status_code == 422
        assert changed.json()["details"]["causes"] == [{
            "reason": "FieldValueInvalid", "field": "spec.controller",
            "message": 'Invalid value: "acme.io/other": field is immutable'}]
        no_prefix = http.post(f"{API}/ingressclasses", json={**body, "metadata": {"name": "c2"},
                                                             "spec": {"controller": "nginx"}})
        assert no_prefix.status_code == 422 and "must be a domain-prefixed path" in no_prefix.json()["message"]
    lines = kernel.kubectl("get", "ingressclass").stdout.splitlines()
    assert lines[0].split() == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]
    assert lines[1].split()[:4] == ["nginx", "(default)", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/p"]
