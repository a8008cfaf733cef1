"""CRD conversion with strategy Webhook against a real server and a REAL HTTPS conversion
webhook started by the test: v1 (the storage version) has ``spec.size`` as a string ("2Ki"),
v2 has ``spec.sizeBytes`` as an integer. Both versions serve get, list and watch, and take
writes; the webhook's answers are checked as kube checks them, and failures are kube's errors
(webhook_converter.go: ``conversion webhook for <gvk> failed: ...``, a 500 without reason)."""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

import httpx
import pytest

from kernel.testing import KernelProcess, start_kernel
from kernel_api_apiextensions.validation import validate_crd
from kernel_webhook.testing import WebhookServer

PLUGINS = "--plugins=api_core,api_apiextensions,storage_memory"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
GROUP = "conv.example.com"
V1 = f"/apis/{GROUP}/v1/namespaces/default/disks"
V2 = f"/apis/{GROUP}/v2/namespaces/default/disks"


def to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    spec = dict(obj.get("spec") or {})
    size = spec.pop("size", "0")
    spec["sizeBytes"] = int(size[:-2]) * 1024 if size.endswith("Ki") else int(size)
    return {**obj, "apiVersion": f"{GROUP}/v2", "spec": spec}


def to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    spec = dict(obj.get("spec") or {})
    n = spec.pop("sizeBytes", 0)
    spec["size"] = f"{n // 1024}Ki" if n and n % 1024 == 0 else str(n)
    return {**obj, "apiVersion": f"{GROUP}/v1", "spec": spec}


def convert(path: str, review: dict[str, Any]) -> dict[str, Any]:
    """The webhook: a well-behaved ConversionReview v1 answer."""
    request = review["request"]
    want = request["desiredAPIVersion"]
    objects = [to_v2(o) if want.endswith("/v2") else to_v1(o) for o in request["objects"]]
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "response": {"uid": request["uid"], "result": {"status": "Success"},
                         "convertedObjects": objects}}


def disk_crd(client_config: dict[str, Any]) -> dict[str, Any]:
    def version(name: str, storage: bool, props: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "served": True, "storage": storage,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": props}}}},
                "additionalPrinterColumns": [{"name": "Spec", "type": "string", "jsonPath": ".spec"}]}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"disks.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": "disks", "singular": "disk", "kind": "Disk"},
                     "conversion": {"strategy": "Webhook", "webhook": {
                         "clientConfig": client_config, "conversionReviewVersions": ["v1"]}},
                     "versions": [version("v1", True, {"size": {"type": "string"}}),
                                  version("v2", False, {"sizeBytes": {"type": "integer"}})]}}


def wait_for(check: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout  # only bounds a hang
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


@pytest.fixture(scope="module")
def webhook():
    with WebhookServer(convert) as server:
        yield server


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory, webhook: WebhookServer):
    kernel = start_kernel(tmp_path_factory.mktemp("conv"), PLUGINS, "--authorization-mode=AlwaysAllow")
    with kernel.client() as client:
        response = client.post(CRDS, json=disk_crd(webhook.client_config("/convert")))
        assert response.status_code == 201, response.text
        wait_for(lambda: client.get(V2).status_code == 200 and client.get(V1).status_code == 200,
                 "both versions served")
    yield kernel
    kernel.stop()


@pytest.fixture(autouse=True)
def well_behaved(webhook: WebhookServer):
    webhook.handle = convert
    yield
    webhook.handle = convert


def disk(name: str, version: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{version}", "kind": "Disk", "metadata": {"name": name,
                                                                             "labels": {"a": "b"}},
            "spec": spec}


def test_writes_in_either_version_and_reads_in_both(kernel: KernelProcess, webhook: WebhookServer) -> None:
    with kernel.client() as client:
        before = len(webhook.requests)
        created = client.post(V2, json=disk("d2", "v2", sizeBytes=2048))
        assert created.status_code == 201, created.text
        assert created.json()["spec"] == {"sizeBytes": 2048}
        assert created.json()["apiVersion"] == f"{GROUP}/v2"
        sent = [body for _, _, body in webhook.requests[before:]]
        assert sent and sent[0]["apiVersion"] == "apiextensions.k8s.io/v1"
        assert sent[0]["kind"] == "ConversionReview"
        assert sent[0]["request"]["desiredAPIVersion"] == f"{GROUP}/v1"  # stored as v1
        assert client.get(f"{V1}/d2").json()["spec"] == {"size": "2Ki"}
        assert client.get(f"{V2}/d2").json()["spec"] == {"sizeBytes": 2048}
        assert client.post(V1, json=disk("d1", "v1", size="3Ki")).status_code == 201
        assert client.get(f"{V2}/d1").json()["spec"] == {"sizeBytes": 3072}
        items = {i["metadata"]["name"]: i for i in client.get(V2).json()["items"]}
        assert items["d1"]["spec"] == {"sizeBytes": 3072} and items["d2"]["apiVersion"] == f"{GROUP}/v2"
        assert {i["metadata"]["name"]: i["spec"] for i in client.get(V1).json()["items"]}["d2"] == {"size": "2Ki"}
        updated = client.get(f"{V2}/d1").json()
        updated["spec"]["sizeBytes"] = 5
        assert client.put(f"{V2}/d1", json=updated).json()["spec"] == {"sizeBytes": 5}
        assert client.get(f"{V1}/d1").json()["spec"] == {"size": "5"}
        patched = client.patch(f"{V2}/d1", json={"spec": {"sizeBytes": 4096}},
                               headers={"Content-Type": "application/merge-patch+json"})
        assert patched.status_code == 200 and patched.json()["spec"] == {"sizeBytes": 4096}
        assert client.get(f"{V1}/d1").json()["spec"] == {"size": "4Ki"}


def test_watch_in_the_served_version(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        rv = client.get(V2).json()["metadata"]["resourceVersion"]
        events: list[dict[str, Any]] = []

        def watch() -> None:
            with kernel.client() as watcher:
                with watcher.stream("GET", V2, params={"watch": "1", "resourceVersion": rv,
                                                        "timeoutSeconds": "10"}) as stream:
                    for line in stream.iter_lines():
                        if line:
                            events.append(json.loads(line))
                            return
        thread = threading.Thread(target=watch)
        thread.start()
        time.sleep(0.3)
        assert client.post(V1, json=disk("w1", "v1", size="1Ki")).status_code == 201
        thread.join(15)
        assert events and events[0]["type"] == "ADDED"
        assert events[0]["object"]["apiVersion"] == f"{GROUP}/v2"
        assert events[0]["object"]["spec"] == {"sizeBytes": 1024}


def _fails_with(client: httpx.Client, text: str) -> None:
    response = client.get(f"{V2}/d2")
    assert response.status_code == 500, response.text
    status = response.json()
    assert status.get("reason", "") == ""  # kube: an error that is not a Status has no reason
    assert status["message"].startswith(f"conversion webhook for {GROUP}/v1, Kind=Disk "), status
    assert text in status["message"], status["message"]


def test_bad_answers_are_refused_as_kube_refuses_them(kernel: KernelProcess, webhook: WebhookServer) -> None:
    def answer(change: Any) -> Any:
        def handle(path: str, review: dict[str, Any]) -> dict[str, Any]:
            out = convert(path, review)
            change(out)
            return out
        return handle
    with kernel.client() as client:
        assert client.post(V2, json=disk("d2", "v2", sizeBytes=2048)).status_code in (201, 409)
        webhook.handle = answer(lambda o: o["response"].update(uid="other"))
        _fails_with(client, 'failed: expected response.uid="')
        webhook.handle = answer(lambda o: o["response"].update(
            result={"status": "Failure", "message": "custom webhook conversion error"}))
        _fails_with(client, "failed: custom webhook conversion error")
        webhook.handle = answer(lambda o: o["response"].update(convertedObjects=[]))
        _fails_with(client, "returned 0 objects, expected 1")
        webhook.handle = answer(lambda o: o["response"]["convertedObjects"][0].update(apiVersion=f"{GROUP}/v1"))
        _fails_with(client, f"returned invalid object at index 0: invalid groupVersion (expected {GROUP}/v2, "
                            f"received {GROUP}/v1)")
        webhook.handle = answer(lambda o: o["response"]["convertedObjects"][0]["metadata"].update(name="x"))
        _fails_with(client, "returned invalid object: must have the same name: d2 != x")
        webhook.handle = answer(lambda o: o.update(kind="Other"))
        _fails_with(client, "failed: expected webhook response of apiextensions.k8s.io/v1, "
                            "Kind=ConversionReview, got apiextensions.k8s.io/v1, Kind=Other")
        # labels and annotations are the webhook's to change; the rest of metadata is not
        webhook.handle = answer(lambda o: o["response"]["convertedObjects"][0]["metadata"].update(
            labels={"converted": "yes"}, generation=99))
        got = client.get(f"{V2}/d2").json()
        assert got["metadata"]["labels"] == {"converted": "yes"}
        assert got["metadata"]["generation"] != 99
        webhook.fail_next(400)
        _fails_with(client, "failed: the server rejected our request for an unknown reason")


def test_webhook_down(kernel: KernelProcess, tmp_path: Any) -> None:
    server = WebhookServer(convert).start()
    config = server.client_config("/convert")
    crd = disk_crd(config)
    crd["metadata"]["name"] = f"downs.{GROUP}"
    crd["spec"]["names"] = {"plural": "downs", "singular": "down", "kind": "Down"}
    downs = f"/apis/{GROUP}/v2/namespaces/default/downs"
    with kernel.client() as client:
        assert client.post(CRDS, json=crd).status_code == 201
        wait_for(lambda: client.get(downs).status_code == 200, "downs served")
        assert client.post(downs.replace("/v2/", "/v1/"), json={**disk("x", "v1", size="1"), "kind": "Down"}
                           ).status_code == 201
        server.stop()
        response = client.get(f"{downs}/x")
        assert response.status_code == 500, response.text
        url = f"{config['url']}?timeout=30s"
        assert response.json()["message"] == (
            f'conversion webhook for {GROUP}/v1, Kind=Down failed: Post "{url}": dial tcp '
            f"127.0.0.1:{server.port}: connect: connection refused")
        created = client.post(downs, json={**disk("y", "v2", sizeBytes=1), "kind": "Down"})
        assert created.status_code == 500
        assert created.json()["message"].startswith(f"conversion webhook for {GROUP}/v2, Kind=Down failed: ")
        assert client.get(f"{downs.replace('/v2/', '/v1/')}/y").status_code == 404


def test_crd_webhook_config_validated_as_kube_does() -> None:
    crd = disk_crd({"url": "http://example.com/convert"})
    crd["spec"]["conversion"]["webhook"]["conversionReviewVersions"] = ["v9", "v9"]
    found = {str(e) for e in validate_crd(crd)}
    assert ('spec.conversion.webhookClientConfig.url: Invalid value: "http": '
            "'https' is the only allowed URL scheme") in " ".join(found)
    assert 'spec.conversion.conversionReviewVersions[1]: Invalid value: "v9": duplicate version' in found
    assert ('spec.conversion.conversionReviewVersions: Invalid value: ["v9","v9"]: must include at '
            "least one of v1, v1beta1") in found
    missing = copy.deepcopy(crd)
    del missing["spec"]["conversion"]["webhook"]
    assert {str(e) for e in validate_crd(missing)} >= {
        "spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook",
        "spec.conversion.conversionReviewVersions: Required value"}
    both = disk_crd({"url": "https://example.com/x", "service": {"namespace": "a", "name": "b"}})
    assert "spec.conversion.webhookClientConfig: Required value: exactly one of url or service is required" \
        in {str(e) for e in validate_crd(both)}
    none = disk_crd({"url": "https://example.com/x"})
    none["spec"]["conversion"]["strategy"] = "None"
    assert {str(e) for e in validate_crd(none)} >= {
        "spec.conversion.webhookClientConfig: Forbidden: should not be set when strategy is not set to Webhook",
        "spec.conversion.conversionReviewVersions: Forbidden: should not be set when strategy is not set to Webhook"}
