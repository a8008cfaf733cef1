"""apps/v1 through a real `kernel serve`: httpx and kubectl (get -o wide, rollout status, scale)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kernel.testing import KUBECTL, KernelProcess, start_kernel

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason=f"{KUBECTL} is not installed")

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
HANG_GUARD = 30  # seconds: never a speed assertion, only so a broken server fails instead of hanging


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    running = start_kernel(tmp_path_factory.mktemp("apps"))
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def _deployment(name: str, replicas: int | None = 2, labels: dict | None = None) -> dict:
    labels = labels or {"app": name}
    spec: dict = {"selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def _create(kernel: KernelProcess, body: dict, path: str = DEPLOYMENTS) -> dict:
    with kernel.client() as client:
        response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_defaults_and_status_only_through_status(kernel: KernelProcess) -> None:
    created = _create(kernel, {**_deployment("api", replicas=None), "status": {"replicas": 5}})
    assert created["spec"]["replicas"] == 1 and created["spec"]["progressDeadlineSeconds"] == 600
    assert created["status"] == {} and created["metadata"]["generation"] == 1
    with kernel.client() as client:
        # a spec change through the main resource bumps generation; its status is ignored
        changed = {**created, "spec": {**created["spec"], "replicas": 3}, "status": {"replicas": 9}}
        updated = client.put(f"{DEPLOYMENTS}/api", json=changed).json()
        assert updated["metadata"]["generation"] == 2 and updated["status"] == {}
        # a status write leaves spec and generation alone
        status = {**updated, "spec": {**updated["spec"], "replicas": 7},
                  "status": {"observedGeneration": 2, "replicas": 3}}
        written = client.put(f"{DEPLOYMENTS}/api/status", json=status).json()
        assert written["status"] == {"observedGeneration": 2, "replicas": 3}
        assert written["spec"]["replicas"] == 3 and written["metadata"]["generation"] == 2
        # a label change is no spec change
        patched = client.patch(f"{DEPLOYMENTS}/api", json={"metadata": {"labels": {"a": "b"}}},
                               headers={"content-type": "application/merge-patch+json"}).json()
        assert patched["metadata"]["generation"] == 2 and patched["status"]["replicas"] == 3


def test_invalid_deployment_is_422_with_kubes_causes_and_changes_nothing(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        response = client.post(DEPLOYMENTS, json=_deployment("bad", replicas=-1, labels={"app": "other"}))
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["reason"] == "Invalid" and body["details"]["kind"] == "Deployment"
        assert body["details"]["group"] == "apps"
        assert [(c["field"], c["reason"]) for c in body["details"]["causes"]] == [
            ("spec.replicas", "FieldValueInvalid"), ("spec.template.metadata.labels", "FieldValueInvalid")]
        assert body["message"] == (
            'Deployment.apps "bad" is invalid: [spec.replicas: Invalid value: -1: must be greater than or '
            'equal to 0, spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
            '`selector` does not match template `labels`]')
        assert client.get(f"{DEPLOYMENTS}/bad").status_code == 404


def test_selector_is_immutable_through_the_api(kernel: KernelProcess) -> None:
    _create(kernel, _deployment("fixed"))
    with kernel.client() as client:
        patch = {"spec": {"selector": {"matchLabels": {"app": "fixed", "x": "y"}},
                          "template": {"metadata": {"labels": {"app": "fixed", "x": "y"}}}}}
        response = client.patch(f"{DEPLOYMENTS}/fixed", json=patch,
                                headers={"content-type": "application/merge-patch+json"})
        assert response.status_code == 422, response.text
        (cause,) = response.json()["details"]["causes"]
        assert cause["field"] == "spec.selector" and cause["message"].endswith("field is immutable")
        assert client.get(f"{DEPLOYMENTS}/fixed").json()["spec"]["selector"] == {"matchLabels": {"app": "fixed"}}


def test_get_wide_shows_kubes_columns(kernel: KernelProcess) -> None:
    _create(kernel, _deployment("wide", replicas=3))
    out = kernel.kubectl("get", "deployment", "wide", "-o", "wide").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
                              "SELECTOR"]
    cells = out[1].split()
    assert cells[:4] == ["wide", "0/3", "0", "0"] and cells[5:] == ["nginx", "nginx:1.25", "app=wide"]


def test_rollout_status_returns_once_the_status_is_written(kernel: KernelProcess) -> None:
    created = _create(kernel, _deployment("roll", replicas=2))
    rollout = subprocess.Popen(
        [KUBECTL, "--kubeconfig", kernel.kubeconfig, "rollout", "status", "deployment/roll",
         f"--timeout={HANG_GUARD}s"], env=kernel.kubectl_env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert rollout.stdout is not None
        first = rollout.stdout.readline()  # it waits: nothing has observed the spec yet
        assert first.startswith("Waiting for deployment"), first
        assert rollout.poll() is None
        status = {"observedGeneration": created["metadata"]["generation"], "replicas": 2,
                  "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}
        with kernel.client() as client:
            response = client.patch(f"{DEPLOYMENTS}/roll/status", json={"status": status},
                                    headers={"content-type": "application/merge-patch+json"})
            assert response.status_code == 200, response.text
        out, err = rollout.communicate(timeout=HANG_GUARD)
    finally:
        if rollout.poll() is None:
            rollout.kill()
            rollout.wait()
    assert rollout.returncode == 0, err
    assert out.strip().endswith('deployment "roll" successfully rolled out')


def test_every_kind_through_kubectl_apply(kernel: KernelProcess, tmp_path: Path) -> None:
    template = {"metadata": {"labels": {"app": "all"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    selector = {"matchLabels": {"app": "all"}}
    items = [
        {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "all"},
         "spec": {"selector": selector, "template": template}}
        for kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")
    ] + [{"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "all-1"},
          "revision": 1, "data": {"spec": {"template": template}}}]
    manifest = tmp_path / "all.yaml"  # a multi-document manifest
    manifest.write_text(yaml.safe_dump_all(items))
    out = kernel.kubectl("apply", "-f", str(manifest)).stdout.split("\n")
    assert [line for line in out if line] == [
        "deployment.apps/all created", "replicaset.apps/all created", "statefulset.apps/all created",
        "daemonset.apps/all created", "controllerrevision.apps/all-1 created"]
    headers = {kind: kernel.kubectl("get", kind, "all" if kind != "controllerrevision" else "all-1",
                                    "-o", "wide").stdout.splitlines()[0].split()
               for kind in ("replicaset", "statefulset", "daemonset", "controllerrevision")}
    assert headers == {
        "replicaset": ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
        "statefulset": ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"],
        "daemonset": ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR",
                      "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
        "controllerrevision": ["NAME", "CONTROLLER", "REVISION", "AGE"],
    }
    everything = kernel.kubectl("get", "all").stdout
    for name in ("deployment.apps/all", "replicaset.apps/all", "statefulset.apps/all", "daemonset.apps/all"):
        assert name in everything


def test_kubectl_create_deployment(kernel: KernelProcess) -> None:
    # kubectl's typed client sends the Deployment as protobuf
    kernel.kubectl("create", "deployment", "pb", "--image=nginx:1.25", "--replicas=2")
    assert kernel.kubectl_json("get", "deployment", "pb")["spec"]["replicas"] == 2


def test_kubectl_scale(kernel: KernelProcess) -> None:
    _create(kernel, _deployment("scaled", replicas=1))
    kernel.kubectl("scale", "deployment/scaled", "--replicas=4")
    scaled = kernel.kubectl_json("get", "deployment", "scaled")
    assert scaled["spec"]["replicas"] == 4 and scaled["metadata"]["generation"] == 2
    scale = json.loads(kernel.kubectl("get", "--raw", f"{DEPLOYMENTS}/scaled/scale").stdout)
    assert scale["spec"]["replicas"] == 4 and scale["status"]["selector"] == "app=scaled"


def test_left_out_with_plugins_flag(tmp_path: Path) -> None:
    running = start_kernel(tmp_path, "--plugins=api_core,storage_memory")
    try:
        with running.client() as client:
            groups = [g["name"] for g in client.get("/apis").json()["groups"]]
            assert "apps" not in groups
            assert client.get(DEPLOYMENTS).status_code == 404
            assert client.get("/api/v1/namespaces/default/configmaps").status_code == 200
            assert "io.k8s.api.apps.v1.Deployment" not in client.get("/openapi/v2").text
        resources = running.kubectl("api-resources", "-o", "name").stdout.split()
        assert "deployments.apps" not in resources and "configmaps" in resources
    finally:
        running.stop()
