"""ServiceAccount admission, the service-account controller and the root-CA publisher, on a real
in-process server: a pod in a fresh namespace looks as it does on a kube cluster."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import trio

from kernel.server.certs import trust_anchor_pem
from kernel.testing import KUBECTL, start_kernel

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
GUARD = 20  # seconds; only so a broken controller fails instead of hanging


@pytest.fixture
async def api(start_api):
    """Every controller, the root-CA publisher included (start_api leaves that one out)."""
    return await start_api("--controllers=*")


def _pod(name: str, **spec) -> dict:
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}


async def _eventually(api, path: str, check=lambda obj: True) -> dict:
    with trio.fail_after(GUARD):
        while True:
            response = await api.client.get(path)
            if response.status_code == 200 and check(response.json()):
                return response.json()
            await trio.sleep(0.05)


async def test_pod_in_fresh_namespace_gets_default_account_and_token_volume(api) -> None:
    await api.namespace("sa1")  # no wait: admission waits for the controller's default, as kube's
    response = await api.client.post("/api/v1/namespaces/sa1/pods", json=_pod("p", initContainers=[
        {"name": "i", "image": "busybox"}]))
    assert response.status_code == 201, response.text
    spec = response.json()["spec"]
    assert spec["serviceAccountName"] == "default"
    (volume,) = spec["volumes"]
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", volume["name"])
    assert volume["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    mount = {"name": volume["name"], "readOnly": True, "mountPath": MOUNT}
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["initContainers"][0]["volumeMounts"] == [mount]


async def test_own_mount_at_the_path_is_kept(api) -> None:
    own = {"name": "mine", "mountPath": MOUNT}
    pod = _pod("p", volumes=[{"name": "mine", "emptyDir": {}}],
               containers=[{"name": "a", "image": "nginx", "volumeMounts": [own]},
                           {"name": "b", "image": "nginx"}])
    response = await api.client.post("/api/v1/namespaces/default/pods", json=pod)
    assert response.status_code == 201, response.text
    spec = response.json()["spec"]
    assert spec["containers"][0]["volumeMounts"] == [own]
    assert spec["containers"][1]["volumeMounts"][0]["mountPath"] == MOUNT
    assert [v["name"] for v in spec["volumes"]][0] == "mine" and len(spec["volumes"]) == 2


async def test_automount_false_on_pod_or_account_skips_the_volume(api) -> None:
    response = await api.client.post("/api/v1/namespaces/default/pods",
                                      json=_pod("off", automountServiceAccountToken=False))
    assert response.status_code == 201, response.text
    assert "volumes" not in response.json()["spec"]
    assert "volumeMounts" not in response.json()["spec"]["containers"][0]

    response = await api.client.post("/api/v1/namespaces/default/serviceaccounts", json={
        "metadata": {"name": "quiet"}, "automountServiceAccountToken": False,
        "imagePullSecrets": [{"name": "regcred"}]})
    assert response.status_code == 201, response.text
    response = await api.client.post("/api/v1/namespaces/default/pods",
                                      json=_pod("quiet", serviceAccountName="quiet"))
    assert response.status_code == 201, response.text
    spec = response.json()["spec"]
    assert "volumes" not in spec and spec["imagePullSecrets"] == [{"name": "regcred"}]
    # the pod's own true wins over the account's false
    response = await api.client.post("/api/v1/namespaces/default/pods", json=_pod(
        "loud", serviceAccountName="quiet", automountServiceAccountToken=True))
    assert response.status_code == 201, response.text
    assert len(response.json()["spec"]["volumes"]) == 1


async def test_missing_account_is_refused_and_nothing_is_stored(api) -> None:
    response = await api.client.post("/api/v1/namespaces/default/pods",
                                      json=_pod("x", serviceAccountName="nobody"))
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["reason"] == "Forbidden"
    assert body["message"] == ('pods "x" is forbidden: error looking up service account '
                               'default/nobody: serviceaccount "nobody" not found')
    assert (await api.client.get("/api/v1/namespaces/default/pods/x")).status_code == 404


async def test_mirror_pod_is_left_alone(api) -> None:
    pod = _pod("m")
    pod["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "hash"}
    response = await api.client.post("/api/v1/namespaces/default/pods", json=pod)
    assert response.status_code == 201, response.text
    assert "serviceAccountName" not in response.json()["spec"]
    assert "volumes" not in response.json()["spec"]


async def test_deleted_default_account_comes_back(api) -> None:
    await api.namespace("sa2")
    path = "/api/v1/namespaces/sa2/serviceaccounts/default"
    first = await _eventually(api, path)
    assert (await api.client.delete(path)).status_code == 200
    again = await _eventually(api, path, lambda obj: obj["metadata"]["uid"] != first["metadata"]["uid"])
    assert again["metadata"]["name"] == "default"


async def test_root_ca_configmap_in_every_namespace_and_restored(api) -> None:
    pem = trust_anchor_pem(api.server.options.serving).decode()
    assert "BEGIN CERTIFICATE" in pem and Path(api.kernel.ca_file).exists()
    for namespace in ("default", "kube-system", "kube-public", "kube-node-lease"):
        configmap = await _eventually(api, f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt")
        assert configmap["data"] == {"ca.crt": pem}
        assert "kubernetes.io/description" in configmap["metadata"]["annotations"]
    await api.namespace("sa3")
    path = "/api/v1/namespaces/sa3/configmaps/kube-root-ca.crt"
    configmap = await _eventually(api, path)
    configmap["data"] = {"ca.crt": "tampered"}
    assert (await api.client.put(path, json=configmap)).status_code == 200
    await _eventually(api, path, lambda obj: obj["data"] == {"ca.crt": pem})
    assert (await api.client.delete(path)).status_code == 200
    await _eventually(api, path, lambda obj: obj["data"] == {"ca.crt": pem})


def test_kubectl_run_in_a_new_namespace(tmp_path: Path) -> None:
    """The real kubectl against ``kernel serve``: what `kubectl run` gets in a fresh namespace."""
    if not os.path.exists(KUBECTL):
        pytest.skip(f"{KUBECTL} is not installed")
    kernel = start_kernel(tmp_path)
    try:
        kernel.kubectl("create", "namespace", "fresh")
        kernel.kubectl("run", "web", "--image=nginx", "-n", "fresh")
        pod = kernel.kubectl_json("get", "pod", "web", "-n", "fresh", "-o", "json")
        assert pod["spec"]["serviceAccountName"] == "default"
        (volume,) = pod["spec"]["volumes"]
        assert volume["name"].startswith("kube-api-access-")
        assert pod["spec"]["containers"][0]["volumeMounts"] == [
            {"name": volume["name"], "readOnly": True, "mountPath": MOUNT}]
        assert kernel.kubectl("get", "sa", "-n", "fresh", "-o", "name").stdout.split() == [
            "serviceaccount/default"]
        ca = kernel.kubectl_json("get", "configmap", "kube-root-ca.crt", "-n", "fresh", "-o", "json")
        assert "BEGIN CERTIFICATE" in ca["data"]["ca.crt"]
        refused = kernel.kubectl("run", "x", "--image=nginx", "-n", "fresh",
                                 "--overrides", '{"spec": {"serviceAccountName": "nobody"}}',
                                 check=False)
        assert refused.returncode != 0
        assert ('pods "x" is forbidden: error looking up service account fresh/nobody: '
                'serviceaccount "nobody" not found') in refused.stderr
    finally:
        kernel.stop()
