"""CRD validation rules and CRD conversion webhooks with real kubectl (issue 15's "Must show"):

- a CRD with ``self.min <= self.max`` and a transition rule (``self >= oldSelf``) refuses
  violations with kube's field paths and messages; a CRD whose rule does not compile is refused;
- a CRD with two versions and a REAL HTTPS conversion webhook (started here: v1 ``spec.size``
  "2Ki", v2 ``spec.sizeBytes`` 2048) serves both for get, list and watch and takes writes in
  either; with the webhook down kubectl shows kube's error.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest

from kernel.testing import KUBECTL, KernelProcess, start_kernel
from kernel_webhook.testing import WebhookServer

PLUGINS = "--plugins=api_core,api_apiextensions,storage_memory"
WAIT = 60.0  # only bounds a hang

RULES_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ranges.rules.example.com
spec:
  group: rules.example.com
  scope: Namespaced
  names: {plural: ranges, singular: range, kind: Range}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: self.min <= self.max
              message: min must be less than or equal to max
            properties:
              min: {type: integer}
              max:
                type: integer
                x-kubernetes-validations:
                - rule: self >= oldSelf
                  message: max may not decrease
"""

RANGE = """
apiVersion: rules.example.com/v1
kind: Range
metadata: {name: r1}
spec: {min: MIN, max: MAX}
"""

GROUP = "conv.example.com"


def _range(min_: int, max_: int, name: str = "r1") -> str:
    return RANGE.replace("MIN", str(min_)).replace("MAX", str(max_)).replace("r1", name)


def convert(path: str, review: dict[str, Any]) -> dict[str, Any]:
    request = review["request"]
    want = request["desiredAPIVersion"]
    converted = []
    for obj in request["objects"]:
        spec = dict(obj.get("spec") or {})
        if want.endswith("/v2"):
            size = spec.pop("size", "0")
            spec["sizeBytes"] = int(size[:-2]) * 1024 if size.endswith("Ki") else int(size)
        else:
            n = spec.pop("sizeBytes", 0)
            spec["size"] = f"{n // 1024}Ki" if n and n % 1024 == 0 else str(n)
        converted.append({**obj, "apiVersion": want, "spec": spec})
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "response": {"uid": request["uid"], "result": {"status": "Success"},
                         "convertedObjects": converted}}


def disks_crd(client_config: dict[str, Any]) -> str:
    def version(name: str, storage: bool, props: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "served": True, "storage": storage,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": props}}}}}
    return json.dumps({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"disks.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"plural": "disks", "singular": "disk", "kind": "Disk"},
                 "conversion": {"strategy": "Webhook", "webhook": {
                     "clientConfig": client_config, "conversionReviewVersions": ["v1", "v1beta1"]}},
                 "versions": [version("v1", True, {"size": {"type": "string"}}),
                              version("v2", False, {"sizeBytes": {"type": "integer"}})]}})


@pytest.fixture(scope="module")
def webhook():
    with WebhookServer(convert) as server:
        yield server


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory, webhook: WebhookServer):
    kernel = start_kernel(tmp_path_factory.mktemp("crd-rules-conv"), PLUGINS,
                          "--authorization-mode=AlwaysAllow")
    kernel.kubectl("apply", "-f", "-", input=RULES_CRD)
    kernel.kubectl("apply", "-f", "-", input=disks_crd(webhook.client_config("/convert")))
    for name in ("ranges.rules.example.com", f"disks.{GROUP}"):
        kernel.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
    yield kernel
    kernel.stop()


def test_rules_refuse_violations_with_kubes_field_paths(kernel: KernelProcess) -> None:
    refused = kernel.kubectl("apply", "-f", "-", input=_range(5, 1), check=False)
    assert refused.returncode != 0
    assert ('The Range "r1" is invalid: spec: Invalid value: min must be less than or equal '
            "to max") in refused.stderr
    kernel.kubectl("apply", "-f", "-", input=_range(1, 5))
    shrunk = kernel.kubectl("apply", "-f", "-", input=_range(1, 4), check=False)
    assert shrunk.returncode != 0
    assert 'The Range "r1" is invalid: spec.max: Invalid value: 4: max may not decrease' in shrunk.stderr
    kernel.kubectl("apply", "-f", "-", input=_range(2, 9))
    assert kernel.kubectl_json("get", "range", "r1")["spec"] == {"min": 2, "max": 9}


def test_crd_whose_rule_does_not_compile_is_refused(kernel: KernelProcess) -> None:
    bad = RULES_CRD.replace("ranges", "badranges").replace("Range", "BadRange") \
        .replace("range}", "badrange}").replace("rule: self.min <= self.max", "rule: self.min <=")
    result = kernel.kubectl("apply", "-f", "-", input=bad, check=False)
    assert result.returncode != 0
    assert 'The CustomResourceDefinition "badranges.rules.example.com" is invalid: ' \
        "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: " \
        'Invalid value: {"Rule":"self.min \\u003c=",' in result.stderr
    assert "compilation failed: ERROR: <input>:1:" in result.stderr
    assert kernel.kubectl("get", "crd", "badranges.rules.example.com", check=False).returncode != 0


def test_conversion_webhook_serves_both_versions(kernel: KernelProcess) -> None:
    kernel.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": f"{GROUP}/v2", "kind": "Disk", "metadata": {"name": "d2"},
        "spec": {"sizeBytes": 2048}}))
    kernel.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": f"{GROUP}/v1", "kind": "Disk", "metadata": {"name": "d1"},
        "spec": {"size": "3Ki"}}))
    assert kernel.kubectl_json("get", f"disks.v1.{GROUP}", "d2")["spec"] == {"size": "2Ki"}
    assert kernel.kubectl_json("get", f"disks.v2.{GROUP}", "d2")["spec"] == {"sizeBytes": 2048}
    listed = kernel.kubectl_json("get", f"disks.v2.{GROUP}")
    assert {i["metadata"]["name"]: i["spec"] for i in listed["items"]} == {
        "d1": {"sizeBytes": 3072}, "d2": {"sizeBytes": 2048}}
    assert {i["apiVersion"] for i in listed["items"]} == {f"{GROUP}/v2"}
    kernel.kubectl("patch", f"disks.v2.{GROUP}", "d1", "--type=merge", "-p", '{"spec":{"sizeBytes":4096}}')
    assert kernel.kubectl_json("get", f"disks.v1.{GROUP}", "d1")["spec"] == {"size": "4Ki"}


def test_conversion_webhook_watch(kernel: KernelProcess) -> None:
    watch = subprocess.Popen([KUBECTL, "--kubeconfig", kernel.kubeconfig, "get", f"disks.v2.{GROUP}",
                              "--watch", "--output-watch-events", "-o", "json"],
                             stdout=subprocess.PIPE, text=True, env=kernel.kubectl_env)
    try:
        kernel.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": f"{GROUP}/v1", "kind": "Disk", "metadata": {"name": "watched"},
            "spec": {"size": "1Ki"}}))
        deadline, text = time.monotonic() + WAIT, ""
        assert watch.stdout is not None
        while '"watched"' not in text or not text.rstrip().endswith("}"):
            assert time.monotonic() < deadline, text
            text += watch.stdout.readline()
            try:
                events = _json_stream(text)
            except ValueError:
                continue
            seen = [e for e in events if e["object"]["metadata"]["name"] == "watched"]
            if seen:
                assert seen[0]["object"]["apiVersion"] == f"{GROUP}/v2"
                assert seen[0]["object"]["spec"] == {"sizeBytes": 1024}
                return
    finally:
        watch.kill()
        watch.wait()


def _json_stream(text: str) -> list[dict[str, Any]]:
    decoder, out, i = json.JSONDecoder(), [], 0
    while i < len(text.rstrip()):
        while text[i].isspace():
            i += 1
        value, i = decoder.raw_decode(text, i)
        out.append(value)
    return out


def test_webhook_down_shows_kubes_error(kernel: KernelProcess) -> None:
    server = WebhookServer(convert).start()
    config = server.client_config("/convert")
    crd = json.loads(disks_crd(config))
    crd["metadata"]["name"] = f"volumes.{GROUP}"
    crd["spec"]["names"] = {"plural": "volumes", "singular": "volume", "kind": "Volume"}
    kernel.kubectl("apply", "-f", "-", input=json.dumps(crd))
    kernel.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/volumes.{GROUP}")
    kernel.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": f"{GROUP}/v1", "kind": "Volume", "metadata": {"name": "v"}, "spec": {"size": "1"}}))
    server.stop()
    result = kernel.kubectl("get", f"volumes.v2.{GROUP}", "v", check=False)
    assert result.returncode != 0
    assert (f'Error from server: conversion webhook for {GROUP}/v1, Kind=Volume failed: Post '
            f'"{config["url"]}?timeout=30s": dial tcp 127.0.0.1:{server.port}: connect: connection '
            "refused") in result.stderr
