"""The generic scale subresource and custom POST subresources, through a real server.

The resource is the ``test_subresources`` fixture plugin's ``widgets`` (a real entry point);
admission is recorded by the ``test_admission`` fixture plugins, loaded into this process.
"""

from __future__ import annotations

import json

import pytest

from conftest import plugin_env
from kernel.admission import GroupVersionKind, GroupVersionResource

PLUGINS = "--plugins=api_core,storage_memory,test_admission,test_subresources"
BASE = "/apis/subres.test.kernel.dev/v1/namespaces/{ns}/widgets"
MERGE = {"content-type": "application/merge-patch+json"}
STRATEGIC = {"content-type": "application/strategic-merge-patch+json"}


@pytest.fixture
def calls(test_plugins_path, monkeypatch):
    monkeypatch.syspath_prepend(test_plugins_path)
    from kernel_test_plugins import admission

    admission.CALLS.clear()
    yield admission.CALLS
    admission.CALLS.clear()


@pytest.fixture
async def api(start_api, calls):
    api = await start_api(PLUGINS, "--enable-admission-plugins=RecordValidating")
    await api.namespace("sub")
    return api


async def widget(api, name: str = "w", replicas: int = 2) -> dict:
    body = {"metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "w", "tier": "a"},
                                                        "matchExpressions": [{
                                                            "key": "env", "operator": "In",
                                                            "values": ["prod", "dev"]}]}}}
    response = await api.client.post(BASE.format(ns="sub"), json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_get_scale(api):
    created = await widget(api)
    scale = await api.get(f"{BASE.format(ns='sub')}/w/scale")
    meta = created["metadata"]
    assert scale == {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": "w", "namespace": "sub", "uid": meta["uid"],
                     "resourceVersion": meta["resourceVersion"],
                     "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": 2},
        "status": {"replicas": 0, "selector": "app=w,env in (dev,prod),tier=a"},
    }
    response = await api.client.get(f"{BASE.format(ns='sub')}/w/scale", headers={
        "accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert [c["name"] for c in response.json()["columnDefinitions"]] == ["Name", "Desired", "Available", "Age"]
    assert response.json()["rows"][0]["cells"][:3] == ["w", 2, 0]
    missing = await api.client.get(f"{BASE.format(ns='sub')}/nope/scale")
    assert missing.status_code == 404
    assert missing.json()["message"] == 'widgets.subres.test.kernel.dev "nope" not found'


async def test_put_scale_bumps_generation_and_is_admitted_as_a_scale(api, calls):
    await widget(api)
    scale = await api.get(f"{BASE.format(ns='sub')}/w/scale")
    calls.clear()
    scale["spec"]["replicas"] = 5
    response = await api.client.put(f"{BASE.format(ns='sub')}/w/scale", json=scale)
    assert response.status_code == 200, response.text
    assert response.json()["spec"] == {"replicas": 5}
    stored = await api.get(f"{BASE.format(ns='sub')}/w")
    assert stored["spec"]["replicas"] == 5 and stored["metadata"]["generation"] == 2
    assert response.json()["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    [seen] = [a for _, _, a in calls]
    assert (seen.operation, seen.subresource, seen.name, seen.namespace) == ("UPDATE", "scale", "w", "sub")
    assert seen.kind == GroupVersionKind("autoscaling", "v1", "Scale")
    assert seen.resource == GroupVersionResource("subres.test.kernel.dev", "v1", "widgets")
    assert seen.object["kind"] == "Scale" and seen.object["spec"]["replicas"] == 5
    assert seen.old_object["spec"]["replicas"] == 2

    # the old resourceVersion is now stale: a conflict on the widget, nothing changes
    response = await api.client.put(f"{BASE.format(ns='sub')}/w/scale", json=scale)
    assert response.status_code == 409
    assert response.json()["message"].startswith(
        'Operation cannot be fulfilled on widgets.subres.test.kernel.dev "w"')


@pytest.mark.parametrize("headers", [MERGE, STRATEGIC], ids=["merge", "strategic"])
async def test_patch_scale(api, headers):
    await widget(api)
    response = await api.client.patch(f"{BASE.format(ns='sub')}/w/scale",
                                      json={"spec": {"replicas": 7}}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["spec"]["replicas"] == 7
    assert (await api.get(f"{BASE.format(ns='sub')}/w"))["spec"]["replicas"] == 7


async def test_json_patch_scale_and_dry_run(api):
    await widget(api)
    response = await api.client.patch(
        f"{BASE.format(ns='sub')}/w/scale", params={"dryRun": "All"},
        content=b'[{"op": "replace", "path": "/spec/replicas", "value": 9}]',
        headers={"content-type": "application/json-patch+json"})
    assert response.status_code == 200, response.text
    assert response.json()["spec"]["replicas"] == 9
    stored = await api.get(f"{BASE.format(ns='sub')}/w")
    assert stored["spec"]["replicas"] == 2 and stored["metadata"]["generation"] == 1


async def test_bad_scales_change_nothing(api):
    created = await widget(api)
    path = f"{BASE.format(ns='sub')}/w/scale"
    response = await api.client.patch(path, json={"spec": {"replicas": -1}}, headers=MERGE)
    assert response.status_code == 422
    assert response.json()["message"] == ('Scale.autoscaling "w" is invalid: spec.replicas: '
                                          'Invalid value: -1: must be greater than or equal to 0')
    # the object's own validation applies to the scaled object
    response = await api.client.patch(path, json={"spec": {"replicas": 101}}, headers=MERGE)
    assert response.status_code == 422
    assert "spec.replicas: Invalid value: 101: must be less than or equal to 100" in response.json()["message"]
    assert response.json()["details"]["kind"] == "Widget"
    response = await api.client.patch(path, json={"spec": {"replicas": "x"}}, headers=MERGE)
    assert response.status_code == 422
    response = await api.client.put(path, json={"apiVersion": "v1", "kind": "Pod",
                                                "metadata": {"name": "w"}})
    assert response.status_code == 400
    response = await api.client.put(path, json={"kind": "Scale", "apiVersion": "autoscaling/v1",
                                                "metadata": {"name": "other"}, "spec": {"replicas": 3}})
    assert response.status_code == 400
    assert "does not match the name on the URL" in response.json()["message"]
    response = await api.client.post(path, json={})
    assert response.status_code == 405
    stored = await api.get(f"{BASE.format(ns='sub')}/w")
    assert stored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_custom_subresource(api, calls):
    await widget(api)
    calls.clear()
    body = {"apiVersion": "subres.test.kernel.dev/v1", "kind": "Assignment",
            "metadata": {"name": "w"}, "target": "node-1"}
    path = f"{BASE.format(ns='sub')}/w/assign"
    response = await api.client.post(path, json=body, params={"dryRun": "All"})
    assert response.status_code == 201, response.text
    assert (await api.get(f"{BASE.format(ns='sub')}/w"))["spec"].get("assignee") is None

    response = await api.client.post(path, json=body, params={"fieldManager": "sched"})
    assert response.status_code == 201, response.text
    assert response.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Success", "code": 201}
    assert (await api.get(f"{BASE.format(ns='sub')}/w"))["spec"]["assignee"] == "node-1"
    seen = [a for _, _, a in calls if a.subresource == "assign" and not a.dry_run]
    assert len(seen) == 1
    assert (seen[0].operation, seen[0].name, seen[0].namespace) == ("CREATE", "w", "sub")
    assert seen[0].kind == GroupVersionKind("subres.test.kernel.dev", "v1", "Assignment")
    assert seen[0].object["target"] == "node-1" and seen[0].object["metadata"]["namespace"] == "sub"
    assert seen[0].options["fieldManager"] == "sched"

    # the handler's refusal, a body of the wrong kind, bad fields and other verbs: nothing changes
    assert (await api.client.post(path, json=body)).status_code == 409
    wrong = await api.client.post(path, json={**body, "kind": "Scale"})
    assert wrong.status_code == 400
    strict = await api.client.post(path, json={**body, "bogus": 1}, params={"fieldValidation": "Strict"})
    assert strict.status_code == 400 and 'unknown field "bogus"' in strict.json()["message"]
    assert (await api.client.get(path)).status_code == 405
    assert (await api.client.put(path, json=body)).status_code == 405
    other_ns = await api.client.post(path, json={**body, "metadata": {"name": "w", "namespace": "x"}})
    assert other_ns.status_code == 400
    denied = await api.client.post(path, json={**body, "metadata": {"name": "w", "labels": {"deny": "y"}}})
    assert denied.status_code == 403
    assert (await api.client.post(f"{BASE.format(ns='sub')}/w/unknown", json=body)).status_code == 404


async def test_custom_subresource_reads_another_registry(api):
    await widget(api)
    body = {"apiVersion": "retire.test.kernel.dev/v1", "kind": "Retirement", "metadata": {"name": "w"}}
    path = f"{BASE.format(ns='sub')}/w/retire"
    await api.configmap("sub", "guard-w")
    response = await api.client.post(path, json=body)
    assert response.status_code == 429, response.text
    assert (await api.client.delete("/api/v1/namespaces/sub/configmaps/guard-w")).status_code == 200
    response = await api.client.post(path, json=body)
    assert response.status_code == 201, response.text
    assert (await api.client.get(f"{BASE.format(ns='sub')}/w")).status_code == 404


async def test_authorization_sees_the_subresource(start_api, calls):
    api = await start_api(PLUGINS, "--authorization-mode=DenyRetire,AlwaysAllow")
    await api.namespace("sub")
    await widget(api)
    anonymous = api.kernel.client(token=None)
    async with anonymous:
        path = f"{BASE.format(ns='sub')}/w"
        body = {"apiVersion": "retire.test.kernel.dev/v1", "kind": "Retirement"}
        response = await anonymous.post(f"{path}/retire", json=body)
        assert response.status_code == 403
        assert response.json()["message"] == (
            'widgets.subres.test.kernel.dev "w" is forbidden: User "system:anonymous" cannot '
            'create resource "widgets/retire" in API group "subres.test.kernel.dev" in the '
            'namespace "sub": retiring is denied')
        response = await anonymous.post(f"{path}/assign", json={"target": "n"})
        assert response.status_code == 201, response.text
    assert (await api.get(path))["spec"]["assignee"] == "n"


async def test_discovery_and_openapi(api):
    resources = {r["name"]: r for r in (await api.get("/apis/subres.test.kernel.dev/v1"))["resources"]}
    assert resources["widgets/scale"] == {"name": "widgets/scale", "singularName": "", "namespaced": True,
                                          "group": "autoscaling", "version": "v1", "kind": "Scale",
                                          "verbs": ["get", "patch", "update"]}
    assert resources["widgets/assign"] == {"name": "widgets/assign", "singularName": "", "namespaced": True,
                                           "kind": "Assignment", "verbs": ["create"]}
    assert resources["widgets/retire"]["group"] == "retire.test.kernel.dev"
    response = await api.client.get("/apis", headers={
        "accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    [group] = [g for g in response.json()["items"] if g["metadata"]["name"] == "subres.test.kernel.dev"]
    subs = {s["subresource"]: s for s in group["versions"][0]["resources"][0]["subresources"]}
    assert subs["scale"]["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert subs["assign"] == {"subresource": "assign", "verbs": ["create"], "responseKind": {
        "group": "subres.test.kernel.dev", "version": "v1", "kind": "Assignment"}}

    doc = await api.get("/openapi/v3/apis/subres.test.kernel.dev/v1")
    item = "/apis/subres.test.kernel.dev/v1/namespaces/{namespace}/widgets/{name}"
    scale = doc["paths"][item + "/scale"]
    assert scale["put"]["operationId"] == "replaceSubresTestKernelDevV1NamespacedWidgetScale"
    assert scale["parameters"][0]["description"] == "name of the Scale"
    assert "io.k8s.api.autoscaling.v1.Scale" in doc["components"]["schemas"]
    assign = doc["paths"][item + "/assign"]
    assert set(assign) == {"parameters", "post"}
    assert assign["post"]["operationId"] == "createSubresTestKernelDevV1NamespacedWidgetAssign"
    assert assign["post"]["x-kubernetes-group-version-kind"] == {
        "group": "subres.test.kernel.dev", "kind": "Assignment", "version": "v1"}
    assert [p["name"] for p in assign["parameters"]] == ["dryRun", "fieldManager", "fieldValidation",
                                                         "name", "namespace", "pretty"]
    assert "dev.kernel.test.subres.v1.Assignment" in doc["components"]["schemas"]


def test_kubectl_scale(kernel_process, test_plugins_path, tmp_path):
    kernel = kernel_process(PLUGINS, env=plugin_env(test_plugins_path))
    manifest = ("apiVersion: subres.test.kernel.dev/v1\nkind: Widget\nmetadata:\n  name: w\n"
                "  namespace: default\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n"
                "      app: w\n")
    kernel.kubectl("apply", "-f", "-", input=manifest)
    out = kernel.kubectl("scale", "widgets/w", "--replicas=3").stdout
    assert "widget.subres.test.kernel.dev/w scaled" in out
    assert kernel.kubectl_json("get", "widget", "w")["spec"]["replicas"] == 3
    # with a precondition kubectl reads the Scale and PUTs it back
    kernel.kubectl("scale", "widgets/w", "--current-replicas=3", "--replicas=4")
    failed = kernel.kubectl("scale", "widgets/w", "--current-replicas=3", "--replicas=5", check=False)
    assert failed.returncode != 0
    raw = kernel.kubectl("get", "--raw",
                         "/apis/subres.test.kernel.dev/v1/namespaces/default/widgets/w/scale").stdout
    scale = json.loads(raw)
    assert scale["spec"]["replicas"] == 4 and scale["status"]["selector"] == "app=w"
    shown = kernel.kubectl("get", "widget", "w", "--subresource=scale").stdout.split()
    assert shown[:4] == ["NAME", "DESIRED", "AVAILABLE", "AGE"] and shown[4:7] == ["w", "4", "0"]


def test_scale_of_other_shapes():
    from kernel.registry.subresources import ScaleSpec, selector_string

    assert selector_string({"tier": "b", "app": "x"}) == "app=x,tier=b"  # a ReplicationController's map
    assert selector_string("app=x") == "app=x"  # a CRD's selector string
    assert selector_string({"matchExpressions": [{"key": "k", "operator": "Exists"}]}) == "k"
    assert selector_string(None) == ""
    crd = ScaleSpec(".spec.size", ".status.ready", ".status.labelSelector")
    obj = {"metadata": {"name": "c", "namespace": "n"}, "spec": {"size": 0},
           "status": {"ready": 3, "labelSelector": "a=b"}}
    assert crd.scale_of(obj)["spec"] == {}  # replicas 0 is omitted, as autoscaling/v1 does
    assert crd.scale_of(obj)["status"] == {"replicas": 3, "selector": "a=b"}
    assert crd.apply(obj, {"spec": {"replicas": 4}})["spec"]["size"] == 4
    assert ScaleSpec(label_selector_path="").scale_of({"metadata": {}})["status"] == {"replicas": 0}


async def test_put_scale_as_protobuf(api):
    from apimachinery.pbwire import envelope, ld, vi

    await widget(api)
    scale = ld(1, ld(1, "w")) + ld(2, vi(1, 6))  # metadata.name, spec.replicas
    response = await api.client.put(f"{BASE.format(ns='sub')}/w/scale",
                                    content=envelope("autoscaling/v1", "Scale", scale),
                                    headers={"content-type": "application/vnd.kubernetes.protobuf"})
    assert response.status_code == 200, response.text
    assert (await api.get(f"{BASE.format(ns='sub')}/w"))["spec"]["replicas"] == 6
