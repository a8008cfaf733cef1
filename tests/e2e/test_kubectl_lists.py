"""kubectl create/apply of a ``kind: List``: kubectl validates it on the client against the
OpenAPI v2 document in protobuf (no OpenAPI v3 path covers ``v1/List``)."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/kubectl"), reason="kubectl is not installed")

LIST = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: %(a)s, namespace: default}
  data: {k: v}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: %(b)s, namespace: default}
  spec:
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec: {containers: [{name: web, image: nginx}]}
"""

INVALID = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: bad, namespace: default}
  bogus: 1
- apiVersion: v1
  kind: Pod
  metadata: {name: bad, namespace: default}
  spec: {containers: [{name: c, image: x, ports: [{containerPort: "eighty"}]}]}
"""


def test_a_list_is_created_applied_and_validated_on_the_client(kernel_process) -> None:
    kernel = kernel_process("--plugins=api_core,api_apps,storage_memory")
    created = kernel.kubectl("create", "-f", "-", input=LIST % {"a": "one", "b": "web"})
    assert "configmap/one created" in created.stdout and "deployment.apps/web created" in created.stdout
    applied = kernel.kubectl("apply", "-f", "-", input=LIST % {"a": "two", "b": "web2"})
    assert "configmap/two created" in applied.stdout
    assert kernel.kubectl_json("get", "configmap", "two")["data"] == {"k": "v"}
    refused = kernel.kubectl("create", "-f", "-", input=INVALID, check=False)
    assert refused.returncode != 0
    assert 'unknown field "bogus" in io.k8s.api.core.v1.ConfigMap' in refused.stderr
    assert ('invalid type for io.k8s.api.core.v1.ContainerPort.containerPort: got "string", '
            'expected "integer"') in refused.stderr
    assert kernel.kubectl("get", "configmap", "bad", check=False).returncode != 0  # nothing created
