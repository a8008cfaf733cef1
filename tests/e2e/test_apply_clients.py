"""Server-side apply from real Python clients, on a Deployment and on a custom resource:
the `kubernetes` client's ``DynamicClient.server_side_apply`` (a JSON body under the apply
content type; ``force=True`` as Python spells it) and lightkube's ``Client.apply``.
kr8s (0.20) has no server-side apply of its own, so it is not here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kernel.testing import KernelProcess, start_kernel

kubernetes = pytest.importorskip("kubernetes")
lightkube = pytest.importorskip("lightkube")
from kubernetes import config as kube_config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402
from kubernetes.dynamic import DynamicClient  # noqa: E402
from lightkube.config.kubeconfig import KubeConfig  # noqa: E402
from lightkube.core.exceptions import ApiError  # noqa: E402
from lightkube.generic_resource import create_namespaced_resource  # noqa: E402
from lightkube.resources.apps_v1 import Deployment  # noqa: E402

PLUGINS = "--plugins=api_core,api_apps,api_apiextensions,storage_memory"

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
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
            properties:
              size: {type: integer}
              parts:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    count: {type: integer}
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("apply-clients"), PLUGINS,
                          "--authorization-mode=AlwaysAllow")
    kernel.kubectl("apply", "-f", "-", input=CRD)
    kernel.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/gadgets.example.com")
    yield kernel
    kernel.stop()


def deployment(name: str, replicas: int, image: str = "nginx") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}}}


def gadget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Gadget",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def owners(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Apply managers by name: their FieldsV1."""
    return {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"] if e["operation"] == "Apply"}


@pytest.fixture
def dynamic(kernel: KernelProcess):
    api_client = kube_config.new_client_from_config(config_file=kernel.kubeconfig)
    yield DynamicClient(api_client)
    api_client.close()


def test_dynamic_client_deployment(dynamic: DynamicClient) -> None:
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    created = dynamic.server_side_apply(deployments, body=deployment("dyn", 2), name="dyn",
                                        namespace="default", field_manager="py-a").to_dict()
    assert created["spec"]["replicas"] == 2
    assert owners(created)["py-a"]["f:spec"]["f:replicas"] == {}

    with pytest.raises(ApiException) as conflict:
        dynamic.server_side_apply(deployments, body=deployment("dyn", 5), name="dyn", namespace="default",
                                  field_manager="py-b")
    assert conflict.value.status == 409
    status = json.loads(conflict.value.body)
    assert status["reason"] == "Conflict"
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "py-a": .spec.replicas'

    forced = dynamic.server_side_apply(deployments, body=deployment("dyn", 5), name="dyn", namespace="default",
                                       field_manager="py-b", force_conflicts=True).to_dict()
    assert forced["spec"]["replicas"] == 5
    assert "f:replicas" in owners(forced)["py-b"]["f:spec"]
    assert "f:replicas" not in owners(forced)["py-a"]["f:spec"]
    assert deployments.get(name="dyn", namespace="default").spec.replicas == 5


def test_dynamic_client_custom_resource(dynamic: DynamicClient) -> None:
    gadgets = dynamic.resources.get(api_version="example.com/v1", kind="Gadget")
    dynamic.server_side_apply(gadgets, body=gadget("g1", size=1, parts=[{"name": "a", "count": 1}]),
                              name="g1", namespace="default", field_manager="py-a")
    merged = dynamic.server_side_apply(gadgets, body=gadget("g1", parts=[{"name": "b", "count": 2}]),
                                       name="g1", namespace="default", field_manager="py-b").to_dict()
    assert {p["name"] for p in merged["spec"]["parts"]} == {"a", "b"} and merged["spec"]["size"] == 1
    with pytest.raises(ApiException) as conflict:
        dynamic.server_side_apply(gadgets, body=gadget("g1", size=3), name="g1", namespace="default",
                                  field_manager="py-b")
    assert conflict.value.status == 409
    assert [c["field"] for c in json.loads(conflict.value.body)["details"]["causes"]] == [".spec.size"]
    dropped = dynamic.server_side_apply(gadgets, body=gadget("g1", size=1), name="g1", namespace="default",
                                        field_manager="py-a").to_dict()
    assert [p["name"] for p in dropped["spec"]["parts"]] == ["b"]  # py-a's part went, py-b's stays


@pytest.fixture
def light(kernel: KernelProcess):
    client = lightkube.Client(KubeConfig.from_file(kernel.kubeconfig), namespace="default")
    yield client
    client.close()


def test_lightkube_deployment(light: Any) -> None:
    applied = light.apply(Deployment.from_dict(deployment("lk", 1)), field_manager="lk-a")
    assert applied.spec.replicas == 1 and applied.metadata.uid
    with pytest.raises(ApiError) as conflict:
        light.apply(Deployment.from_dict(deployment("lk", 3)), field_manager="lk-b")
    assert conflict.value.status.code == 409
    assert conflict.value.status.message == 'Apply failed with 1 conflict: conflict with "lk-a": .spec.replicas'
    assert [c.field for c in conflict.value.status.details.causes] == [".spec.replicas"]
    forced = light.apply(Deployment.from_dict(deployment("lk", 3)), field_manager="lk-b", force=True)
    assert forced.spec.replicas == 3
    # the image was applied by both with the same value: shared, so a change by one conflicts
    with pytest.raises(ApiError) as shared:
        light.apply(Deployment.from_dict(deployment("lk", 3, image="redis")), field_manager="lk-b")
    assert [c.field for c in shared.value.status.details.causes] == [
        '.spec.template.spec.containers[name="main"].image']
    assert light.get(Deployment, "lk").spec.template.spec.containers[0].image == "nginx"


def test_lightkube_custom_resource(light: Any) -> None:
    Gadget = create_namespaced_resource("example.com", "v1", "Gadget", "gadgets")
    created = light.apply(Gadget(gadget("lk-g", size=2, parts=[{"name": "a", "count": 1}])), field_manager="lk-a")
    assert created.spec["size"] == 2
    second = light.apply(Gadget(gadget("lk-g", parts=[{"name": "b", "count": 1}])), field_manager="lk-b")
    assert {p["name"] for p in second.spec["parts"]} == {"a", "b"}
    before = light.get(Gadget, "lk-g")
    previewed = light.apply(Gadget(gadget("lk-g", size=7)), field_manager="lk-a", dry_run=True)
    assert previewed.spec["size"] == 7 and [p["name"] for p in previewed.spec["parts"]] == ["b"]
    after = light.get(Gadget, "lk-g")  # dry run: nothing stored
    assert after.spec == before.spec and after.metadata.resourceVersion == before.metadata.resourceVersion
    assert {e.manager for e in after.metadata.managedFields} == {"lk-a", "lk-b"}
