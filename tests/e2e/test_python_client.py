"""The official `kubernetes` Python client against `kernel serve`."""

from __future__ import annotations

import threading
import time

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


ROOT_CA = "kube-root-ca.crt"


@pytest.fixture
def core(kernel_process) -> client.CoreV1Api:
    kernel = kernel_process()
    api_client = config.new_client_from_config(config_file=kernel.kubeconfig)
    yield client.CoreV1Api(api_client)
    api_client.close()


def test_version_endpoint(kernel_process):
    kernel = kernel_process()
    api_client = config.new_client_from_config(config_file=kernel.kubeconfig)
    info = client.VersionApi(api_client).get_code()  # GET /version/ with a trailing slash
    assert info.git_version.startswith("v1.32.")
    api_client.close()


def test_crud_conflict_and_errors(core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py")))
    created = core.create_namespaced_config_map("py", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="c1", labels={"app": "x"}), data={"k": "v"}))
    assert created.metadata.uid and created.data == {"k": "v"}
    stale = core.read_namespaced_config_map("c1", "py")
    assert stale.metadata.resource_version == created.metadata.resource_version

    patched = core.patch_namespaced_config_map("c1", "py", {"data": {"k2": "v2"}})  # strategic merge
    assert patched.data == {"k": "v", "k2": "v2"}
    stale.data = {"only": "this"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("c1", "py", stale)
    assert conflict.value.status == 409
    fresh = core.read_namespaced_config_map("c1", "py")
    fresh.data = {"only": "this"}
    assert core.replace_namespaced_config_map("c1", "py", fresh).data == {"only": "this"}

    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map("py", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1")))
    assert exists.value.status == 409 and '"reason":"AlreadyExists"' in exists.value.body.replace(" ", "")
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("nope", "py")
    assert missing.value.status == 404
    with pytest.raises(ApiException) as no_namespace:
        core.create_namespaced_config_map("ghost-ns", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x")))
    assert no_namespace.value.status == 404

    listed = core.list_namespaced_config_map("py", label_selector="app=x")
    assert [item.metadata.name for item in listed.items] == ["c1"]
    core.delete_namespaced_config_map("c1", "py")
    # as on a cluster, the root-CA publisher's configmap is all that is left
    assert [i.metadata.name for i in core.list_namespaced_config_map("py").items] in ([], [ROOT_CA])

    secret = core.create_namespaced_secret("py", client.V1Secret(
        metadata=client.V1ObjectMeta(name="s"), string_data={"user": "admin"}))
    assert secret.data == {"user": "YWRtaW4="} and secret.string_data is None


def test_watch_stream(core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="w")))
    seen: list[tuple[str, str]] = []

    def consume() -> None:
        stream = watch.Watch()
        for event in stream.stream(core.list_namespaced_config_map, "w", timeout_seconds=10):
            if event["object"].metadata.name != ROOT_CA:  # the publisher's, as on a cluster
                seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                stream.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(1)
    core.create_namespaced_config_map("w", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a")))
    core.patch_namespaced_config_map("a", "w", {"data": {"x": "1"}})
    core.delete_namespaced_config_map("a", "w")
    thread.join(timeout=20)
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
