"""Typed admission through a real server: the attributes plugins receive for create, update,
patch, subresource and delete requests; mutating before validating; dry run; a validating
plugin's changes discarded; refusals as kube's Forbidden Status.

The recording plugins are the ``test_admission`` fixture plugin (a real entry point), loaded
into this process so the test can read what they recorded.
"""

from __future__ import annotations

import pytest

from conftest import build_server
from kernel.admission import Attributes, GroupVersionKind, GroupVersionResource, admission_order
from kernel.authentication import APISERVER_USER

CM = "/api/v1/namespaces/{ns}/configmaps"
PLUGINS = "--plugins=api_core,storage_memory,test_admission"


@pytest.fixture
def calls(test_plugins_path, monkeypatch):
    monkeypatch.syspath_prepend(test_plugins_path)
    from kernel_test_plugins import admission

    admission.CALLS.clear()
    yield admission.CALLS
    admission.CALLS.clear()


@pytest.fixture
async def api(start_api, calls):
    return await start_api(PLUGINS, "--enable-admission-plugins=RecordMutating,RecordValidating")


def recorded(calls, phase: str, operation: str, name: str) -> Attributes:
    [attributes] = [a for _, p, a in calls if p == phase and a.operation == operation and a.name == name]
    return attributes


async def test_create_attributes(api, calls):
    await api.namespace("adm")
    response = await api.client.post(CM.format(ns="adm"), json={"metadata": {"name": "c"}, "data": {"k": "v"}},
                                     params={"fieldValidation": "Strict"})
    assert response.status_code == 201, response.text
    seen = recorded(calls, "validate", "CREATE", "c")
    assert seen.user.name == APISERVER_USER
    assert (seen.namespace, seen.name, seen.subresource, seen.dry_run) == ("adm", "c", "", False)
    assert seen.kind == GroupVersionKind("", "v1", "ConfigMap")
    assert seen.resource == GroupVersionResource("", "v1", "configmaps")
    assert seen.options == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldValidation": "Strict"}
    assert seen.old_object is None
    # the validating plugin ran after the mutating one: it saw the label
    assert seen.object["metadata"]["labels"] == {"admitted-by": "RecordMutating"}
    assert seen.object["data"]["k"] == "v"
    # stored: the mutation, but not what the validating plugin wrote into its copy
    stored = await api.get(f"{CM.format(ns='adm')}/c")
    assert stored["metadata"]["labels"] == {"admitted-by": "RecordMutating"}
    assert stored["data"] == {"k": "v"}


async def test_update_patch_and_delete_attributes(api, calls):
    await api.namespace("adm")
    created = await api.configmap("adm", "c", {"k": "v"})
    body = {**created, "data": {"k": "w"}}
    response = await api.client.put(f"{CM.format(ns='adm')}/c", json=body, params={"fieldManager": "tester"})
    assert response.status_code == 200, response.text
    update = recorded(calls, "validate", "UPDATE", "c")
    assert update.options == {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "tester"}
    assert update.old_object["data"] == {"k": "v"} and update.object["data"]["k"] == "w"
    assert update.old_object["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert not update.dry_run and update.subresource == ""

    calls.clear()
    response = await api.client.patch(f"{CM.format(ns='adm')}/c", json={"data": {"k": "x"}},
                                      headers={"content-type": "application/merge-patch+json"})
    assert response.status_code == 200, response.text
    patch = recorded(calls, "validate", "UPDATE", "c")  # kube admits a patch as an update
    assert patch.options["kind"] == "UpdateOptions" and patch.object["data"]["k"] == "x"

    current = response.json()
    calls.clear()
    response = await api.client.request("DELETE", f"{CM.format(ns='adm')}/c", params={"dryRun": "All"},
                                        json={"preconditions": {"uid": current["metadata"]["uid"]}})
    assert response.status_code == 200, response.text
    for phase in ("admit", "validate"):  # a mutating plugin is called on a delete too
        delete = recorded(calls, phase, "DELETE", "c")
        assert delete.dry_run and delete.object is None
        assert delete.old_object["data"] == {"k": "x"}
        assert delete.options == {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", "dryRun": ["All"],
                                  "preconditions": {"uid": current["metadata"]["uid"]}}
    assert (await api.get(f"{CM.format(ns='adm')}/c"))["data"] == {"k": "x"}  # dry run: still there


async def test_subresource_and_cluster_scoped_attributes(api, calls):
    namespace = await api.namespace("adm")
    response = await api.client.put("/api/v1/namespaces/adm/status", json=namespace)
    assert response.status_code == 200, response.text
    seen = recorded(calls, "validate", "UPDATE", "adm")
    assert (seen.subresource, seen.namespace) == ("status", "")
    assert seen.kind == GroupVersionKind("", "v1", "Namespace")
    assert seen.resource == GroupVersionResource("", "v1", "namespaces")


async def test_dry_run_create_is_admitted_as_dry_run(api, calls):
    await api.namespace("adm")
    response = await api.client.post(CM.format(ns="adm"), json={"metadata": {"name": "d"}},
                                     params={"dryRun": "All"})
    assert response.status_code == 201, response.text
    assert response.json()["metadata"]["labels"] == {"admitted-by": "RecordMutating"}
    seen = recorded(calls, "validate", "CREATE", "d")
    assert seen.dry_run and seen.options["dryRun"] == ["All"]
    assert (await api.client.get(f"{CM.format(ns='adm')}/d")).status_code == 404


async def test_refusal_is_a_forbidden_status_and_stores_nothing(api, calls):
    await api.namespace("adm")
    response = await api.client.post(CM.format(ns="adm"), json={"metadata": {"name": "no", "labels": {"deny": "yes"}}})
    assert response.status_code == 403, response.text
    body = response.json()
    assert (body["kind"], body["status"], body["reason"], body["code"]) == ("Status", "Failure", "Forbidden", 403)
    assert body["message"] == 'configmaps "no" is forbidden: label deny=yes'
    assert body["details"] == {"name": "no", "kind": "configmaps"}
    assert (await api.client.get(f"{CM.format(ns='adm')}/no")).status_code == 404
    # generateName: the generated name is the one in the message
    response = await api.client.post(CM.format(ns="adm"), json={"metadata": {"generateName": "no-",
                                                                             "labels": {"deny": "yes"}}})
    assert response.status_code == 403, response.text
    assert response.json()["message"].startswith('configmaps "no-')


async def test_mutating_plugins_run_before_validating_ones_in_flag_order(start_api, calls):
    api = await start_api(PLUGINS, "--enable-admission-plugins=RecordValidating,Both,RecordMutating")
    assert api.server.admission.names == ["NamespaceLifecycle", "ServiceAccount", "RecordValidating",
                                          "Both", "RecordMutating"]
    assert [name for name, _ in api.server.admission.mutating] == ["NamespaceLifecycle", "ServiceAccount",
                                                                   "Both", "RecordMutating"]
    assert [name for name, _ in api.server.admission.validating] == ["RecordValidating", "Both"]
    await api.namespace("adm")
    calls.clear()
    await api.configmap("adm", "c")
    # only the configmap's: the service-account controller writes into the new namespace too
    assert [(plugin, phase) for plugin, phase, a in calls if a.resource.resource == "configmaps"] == [
        ("Both", "admit"), ("RecordMutating", "admit"), ("RecordValidating", "validate"), ("Both", "validate")]


async def test_namespace_lifecycle_refuses_before_later_plugins_run(api, calls):
    """NamespaceLifecycle is first in the mutating phase (as in kube): a create in a missing
    namespace is refused before any other plugin sees it."""
    response = await api.client.post(CM.format(ns="missing"), json={"metadata": {"name": "c"}})
    assert response.status_code == 404, response.text
    assert response.json()["message"] == 'namespaces "missing" not found'
    assert [attributes for _, _, attributes in calls if attributes.namespace == "missing"] == []


def test_a_plugin_with_neither_interface_is_refused(tmp_path, calls):
    with pytest.raises(TypeError, match="'Neither' implements neither MutatingAdmission"):
        build_server(tmp_path, [PLUGINS, "--enable-admission-plugins=Neither"])


async def test_warnings_reach_the_response_and_annotations_are_recorded(api, calls):
    await api.namespace("adm")
    response = await api.client.post(CM.format(ns="adm"), json={"metadata": {"name": "w", "labels": {"warn": "mind"}}})
    assert response.status_code == 201, response.text
    assert response.headers.get_list("warning") == ['299 - "RecordValidating: mind"']
    denied = await api.client.post(CM.format(ns="adm"), json={
        "metadata": {"name": "d", "labels": {"warn": "careful", "deny": "yes"}}})
    assert denied.status_code == 403
    # kube writes what was recorded before the refusal on the error response too
    assert denied.headers.get_list("warning") == ['299 - "RecordValidating: careful"']
    plain = await api.client.post(CM.format(ns="adm"), json={"metadata": {"name": "p"}})
    assert plain.status_code == 201 and "warning" not in plain.headers


def test_webhooks_policies_and_quota_run_last_in_kubes_order():
    def plugin(default: bool):
        def factory(context):
            return None
        if default:
            factory.default_enabled = True
        return ("p", factory)

    provided = {"ValidatingAdmissionWebhook": plugin(True), "MutatingAdmissionWebhook": plugin(True),
                "ValidatingAdmissionPolicy": plugin(True), "NamespaceLifecycle": plugin(True),
                "AlwaysDeny": plugin(False), "Mine": plugin(False), "ServiceAccount": plugin(True)}
    assert admission_order(provided, ["AlwaysDeny", "Mine"], ["ServiceAccount"]) == [
        "NamespaceLifecycle", "Mine", "MutatingAdmissionWebhook", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionWebhook", "AlwaysDeny"]
