"""APIServices on one real server (and a backend reached through Service Endpoints): validation,
the Available condition's reasons, 503 for an unavailable group-version, TLS with caBundle."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from kernel.testing import KernelProcess, install_into, start_kernel
from kernel_api_apiregistration.backend import forwarded_headers, proxy_headers
from kernel_authn_x509.testing import CertificateAuthority

WARDLE = Path(__file__).resolve().parent / "fixtures" / "kernel-test-wardle"
GROUP, VERSION = "wardle.example.com", "v1alpha1"
NAME = f"{VERSION}.{GROUP}"
APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"


def _apiservice(service: dict | None = None, **spec) -> dict:
    body = {"group": GROUP, "version": VERSION, "groupPriorityMinimum": 1000, "versionPriority": 15, **spec}
    if service is not None:
        body["service"] = service
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": NAME},
            "spec": body}


def _condition(kernel: KernelProcess, name: str = NAME, deadline: float = 30.0,
               until: tuple[str, str] | None = None) -> dict:
    end = time.monotonic() + deadline
    with kernel.client() as client:
        while True:
            response = client.get(f"{APISERVICES}/{name}")
            obj = response.json() if response.status_code == 200 else {}  # 404 while re-created
            found = next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Available"), None)
            if found and (until is None or (found["status"], found["reason"]) == until):
                return found
            if time.monotonic() > end:
                raise AssertionError(f"no Available condition {until} on {name}: {obj}")
            time.sleep(0.05)


@pytest.fixture
def front(tmp_path: Path):
    kernel = start_kernel(tmp_path / "front")
    yield kernel
    kernel.stop()


def test_invalid_apiservices_are_refused_with_field_paths(front: KernelProcess) -> None:
    with front.client() as client:
        bad = _apiservice({"namespace": "default", "name": "x", "port": 70000}, group="other.io",
                          versionPriority=0)
        response = client.post(APISERVICES, json=bad)
        assert response.status_code == 422, response.text
        fields = {c["field"] for c in response.json()["details"]["causes"]}
        assert {"spec.group", "spec.versionPriority", "spec.service.port"} <= fields
        response = client.post(APISERVICES, json={**_apiservice(), "metadata": {"name": "nodots"}})
        assert response.status_code == 422 and "version.group" in response.text
        assert client.get(f"{APISERVICES}/{NAME}").status_code == 404  # nothing was stored


def test_a_missing_service_is_unavailable_and_its_requests_503(front: KernelProcess) -> None:
    with front.client() as client:
        created = client.post(APISERVICES, json={**_apiservice({"namespace": "default", "name": "nowhere"}),
                                                 "status": {"conditions": [{"type": "Available", "status": "True"}]}})
        assert created.status_code == 201, created.text
        assert created.json()["status"] == {}  # status is the controller's, never the creator's
        assert created.json()["spec"]["service"]["port"] == 443  # defaulted
        condition = _condition(front)
        assert (condition["status"], condition["reason"]) == ("False", "ServiceNotFound")
        response = client.get(f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders")
        assert (response.status_code, response.json()["reason"]) == (503, "ServiceUnavailable")
        assert GROUP not in {g["name"] for g in client.get("/apis").json()["groups"]}
        rows = front.kubectl("get", "apiservice", NAME).stdout
        assert "default/nowhere" in rows and "False (ServiceNotFound)" in rows


def test_local_apiservices_are_registered_available(front: KernelProcess) -> None:
    for name in ("v1.", "v1.apps", "v1.coordination.k8s.io"):
        condition = _condition(front, name, until=("True", "Local"))
        assert condition["message"] == "Local APIServices are always available"


def test_front_proxy_headers() -> None:
    assert proxy_headers("jane", ["a", "b"], {"example.com/Team Name": ["blue"]}) == [
        ("X-Remote-User", "jane"), ("X-Remote-Group", "a"), ("X-Remote-Group", "b"),
        ("X-Remote-Extra-example.com%2FTeam%20Name", "blue")]
    kept = forwarded_headers([(b"Authorization", b"Bearer t"), (b"X-Remote-User", b"root"),
                              (b"Impersonate-User", b"root"), (b"Host", b"a"), (b"Accept", b"application/json")])
    assert kept == [("accept", "application/json")]


def test_a_service_with_endpoints_is_verified_by_its_caBundle(front: KernelProcess, tmp_path: Path) -> None:
    """spec.service through the Service's Endpoints; TLS checks the name <service>.<namespace>.svc."""
    target = tmp_path / "wardle-plugin"
    install_into(WARDLE, target)
    ca = CertificateAuthority("backend-ca")
    serving = ca.issue("wardle", usages=(ExtendedKeyUsageOID.SERVER_AUTH,),
                       dns_names=["wardle.default.svc", "localhost"], ip_addresses=["127.0.0.1"])
    cert, key = serving.write(tmp_path, "serving")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))}
    backend = start_kernel(tmp_path / "backend", "--plugins=storage_memory,test_wardle",
                           "--authorization-mode=AlwaysAllow", f"--tls-cert-file={cert}",
                           f"--tls-private-key-file={key}", env=env, wait_ready=False)
    try:
        port = int(backend.url.rsplit(":", 1)[1])
        with front.client() as client:
            for path, obj in [
                ("/api/v1/namespaces/default/services",
                 {"metadata": {"name": "wardle"}, "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]}}),
                ("/api/v1/namespaces/default/endpoints",
                 {"metadata": {"name": "wardle"}, "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                                                               "ports": [{"name": "https", "port": port}]}]}),
                (APISERVICES, _apiservice({"namespace": "default", "name": "wardle"},
                                          caBundle=base64.b64encode(ca.cert_pem).decode()))]:
                assert client.post(path, json=obj).status_code == 201, (path, obj)
            assert _condition(front, until=("True", "Passed"))["message"] == "all checks passed"
            flunder = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Flunder", "metadata": {"name": "f"}}
            created = client.post(f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders", json=flunder)
            assert created.status_code == 201, created.text
            # Another CA in caBundle: the backend's certificate no longer verifies.
            other = base64.b64encode(CertificateAuthority("other").cert_pem).decode()
            patched = client.patch(f"{APISERVICES}/{NAME}", json={"spec": {"caBundle": other}},
                                   headers={"Content-Type": "application/merge-patch+json"})
            assert patched.status_code == 200, patched.text
            condition = _condition(front, until=("False", "FailedDiscoveryCheck"))
            assert "CERTIFICATE_VERIFY_FAILED" in condition["message"], condition
            assert client.get(f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders").status_code == 503
    finally:
        backend.stop()


class _HTTPClient:
    """resolve()'s client interface (``get``, ``list``) over real HTTPS to a kernel."""

    def __init__(self, kernel: KernelProcess) -> None:
        self.kernel = kernel

    async def get(self, path: str, params: dict | None = None) -> dict:
        from kernel.apimachinery.status import StatusError

        with self.kernel.client() as client:
            response = client.get(path, params=params)
        if response.status_code >= 400:
            body = response.json()
            raise StatusError(body["code"], body.get("reason", ""), body.get("message", ""))
        return response.json()

    list = get


async def test_endpointslices_are_preferred_and_endpoints_are_the_fallback(front: KernelProcess) -> None:
    """Resolution only reads objects (no traffic to the documentation addresses used here)."""
    from kernel_webhook.resolve import ResolveError, resolve

    client = _HTTPClient(front)
    reference = {"namespace": "default", "name": "api", "port": 443}
    with front.client() as http:
        assert http.post("/api/v1/namespaces/default/services", json={
            "metadata": {"name": "api"},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}}).status_code == 201
        with pytest.raises(ResolveError) as missing:
            await resolve(client, reference)
        assert missing.value.reason == "EndpointsNotFound"
        assert http.post("/api/v1/namespaces/default/endpoints", json={
            "metadata": {"name": "api"}, "subsets": [{"addresses": [{"ip": "192.0.2.7"}],
                                                     "ports": [{"name": "https", "port": 8443}]}]}).status_code == 201
        target = await resolve(client, reference)
        assert (target.host, target.port, target.server_name) == ("192.0.2.7", 8443, "api.default.svc")
        assert http.post("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", json={
            "metadata": {"name": "api-1", "labels": {"kubernetes.io/service-name": "api"}},
            "addressType": "IPv4", "ports": [{"name": "https", "port": 9443}],
            "endpoints": [{"addresses": ["192.0.2.8"], "conditions": {"ready": False}},
                          {"addresses": ["192.0.2.9"], "conditions": {"ready": True}}]}).status_code == 201
        target = await resolve(client, reference)
        assert (target.host, target.port) == ("192.0.2.9", 9443)
        with pytest.raises(ResolveError) as wrong_port:
            await resolve(client, {**reference, "port": 80})
        assert wrong_port.value.reason == "ServicePortError"


def test_local_apiservices_are_kept_in_step_with_the_served_groups(front: KernelProcess) -> None:
    """A deleted local APIService comes back; an automanaged one of a group not served goes."""
    with front.client() as client:
        _condition(front, "v1.apps", until=("True", "Local"))
        assert client.delete(f"{APISERVICES}/v1.apps").status_code == 200
        stale = {**_apiservice(), "metadata": {"name": "v1.gone.example.com", "labels": {
            "kube-aggregator.kubernetes.io/automanaged": "onstart"}}}
        stale["spec"].update(group="gone.example.com", version="v1")
        assert client.post(APISERVICES, json=stale).status_code == 201
        _condition(front, "v1.apps", until=("True", "Local"))
        end = time.monotonic() + 30
        while client.get(f"{APISERVICES}/v1.gone.example.com").status_code != 404:
            assert time.monotonic() < end, "the stale automanaged APIService was never deleted"
            time.sleep(0.05)
