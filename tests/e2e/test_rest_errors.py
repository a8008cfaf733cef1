"""Errors, namespace lifecycle, discovery and OpenAPI over HTTP as kube-apiserver answers them."""

from __future__ import annotations

import trio

from conftest import HANG_GUARD
from rest_helpers import CM, NAMESPACES, SECRETS, assert_status, names

CMS = CM.format(ns="default")
MERGE_PATCH = {"content-type": "application/merge-patch+json"}
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
KUBECTL_DISCOVERY = (f"{AGGREGATED},application/json;g=apidiscovery.k8s.io;v=v2beta1;"
                     "as=APIGroupDiscoveryList,application/json")
DEFAULT_NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system"]


async def _gone(api, path: str) -> None:
    """Poll until ``path`` is 404 (the namespace controller works in the background)."""
    with trio.fail_after(HANG_GUARD):
        while (await api.client.get(path)).status_code != 404:
            await trio.sleep(0.05)


# --- errors ------------------------------------------------------------------------------------

async def test_not_found_statuses(api):
    assert_status(await api.client.get(f"{CMS}/missing"), 404, "NotFound", 'configmaps "missing" not found',
                  {"name": "missing", "kind": "configmaps"})
    assert_status(await api.client.get(f"{NAMESPACES}/missing"), 404, "NotFound",
                  'namespaces "missing" not found', {"name": "missing", "kind": "namespaces"})
    # in a namespace that does not exist, reads name the object, not the namespace
    assert_status(await api.client.get(f"{CM.format(ns='nowhere')}/x"), 404, "NotFound",
                  'configmaps "x" not found', {"name": "x", "kind": "configmaps"})
    assert_status(await api.client.patch(f"{SECRETS.format(ns='default')}/none", headers=MERGE_PATCH, json={}),
                  404, "NotFound", 'secrets "none" not found', {"name": "none", "kind": "secrets"})
    assert_status(await api.client.delete(f"{CMS}/missing"), 404, "NotFound", 'configmaps "missing" not found')
    assert (await api.get(CM.format(ns="nowhere")))["items"] == []  # listing an empty namespace is fine


async def test_unknown_resources_and_groups_are_404(api):
    message = "the server could not find the requested resource"
    for path in ("/api/v1/namespaces/default/widgets", "/api/v1/widgets", "/api/v2/namespaces",
                 "/apis/nothing.example.com/v1/things", "/api/v1/namespaces/default/configmaps/x/status",
                 "/api/v1/namespaces/default/namespaces"):
        assert_status(await api.client.get(path), 404, "NotFound", message)
    assert_status(await api.client.post("/api/v1/widgets", json={}), 404, "NotFound", message)


async def test_unsupported_verbs_are_405(api):
    await api.configmap("default", "item", {})
    message = "the server does not allow this method on the requested resource"
    cases = [
        ("POST", f"{CMS}/item", {"metadata": {"name": "item"}}),  # create on an item
        ("PUT", CMS, {"metadata": {"name": "x"}}),               # update on a collection
        ("PATCH", CMS, {}),                                      # patch on a collection
        ("DELETE", NAMESPACES, None),                            # namespaces have no deletecollection
        ("POST", f"{NAMESPACES}/default/finalize", {}),          # finalize is update-only
        ("DELETE", f"{NAMESPACES}/default/status", None),
    ]
    for method, path, body in cases:
        response = await api.client.request(method, path, json=body,
                                            headers=MERGE_PATCH if method == "PATCH" else None)
        assert_status(response, 405, "MethodNotAllowed", message)
    assert (await api.client.get(f"{CMS}/item")).status_code == 200
    assert {"default", "kube-system"} <= set(names((await api.get(NAMESPACES))["items"]))


async def test_already_exists_and_conflict_details(api):
    await api.namespace("dup")
    assert_status(await api.client.post(NAMESPACES, json={"metadata": {"name": "dup"}}), 409, "AlreadyExists",
                  'namespaces "dup" already exists', {"name": "dup", "kind": "namespaces"})


# --- namespaces --------------------------------------------------------------------------------

async def test_default_namespaces_exist_at_start(api):
    listed = await api.get(NAMESPACES)
    assert listed["kind"] == "NamespaceList" and names(listed["items"]) == DEFAULT_NAMESPACES
    for ns in listed["items"]:
        assert ns["status"] == {"phase": "Active"} and ns["spec"] == {"finalizers": ["kubernetes"]}
        assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": ns["metadata"]["name"]}
        assert ns["metadata"]["uid"] and ns["metadata"]["creationTimestamp"]


async def test_creating_in_a_missing_namespace_is_404(api):
    for path, body in ((CM.format(ns="ghost"), {"metadata": {"name": "x"}}),
                       (SECRETS.format(ns="ghost"), {"metadata": {"name": "x"}})):
        assert_status(await api.client.post(path, json=body), 404, "NotFound", 'namespaces "ghost" not found',
                      {"name": "ghost", "kind": "namespaces"})
    assert (await api.get("/api/v1/configmaps"))["items"] == []


async def test_namespace_deletion_empties_it_then_removes_it(api):
    await api.namespace("doomed")
    await api.configmap("doomed", "c1", {})
    await api.configmap("doomed", "held", {}, finalizers=["example.com/hold"])
    secret = await api.client.post(SECRETS.format(ns="doomed"), json={"metadata": {"name": "s"}})
    assert secret.status_code == 201
    deleted = await api.client.delete(f"{NAMESPACES}/doomed")
    assert deleted.status_code == 200, deleted.text
    marked = deleted.json()  # namespaces answer with the object (ReturnDeletedObject)
    assert marked["kind"] == "Namespace" and marked["status"]["phase"] == "Terminating"
    assert marked["metadata"]["deletionTimestamp"] and marked["spec"] == {"finalizers": ["kubernetes"]}

    await _gone(api, f"{SECRETS.format(ns='doomed')}/s")
    await _gone(api, f"{CM.format(ns='doomed')}/c1")
    held = await api.get(f"{CM.format(ns='doomed')}/held")  # waits for its own finalizer
    assert held["metadata"]["deletionTimestamp"]
    # A terminating namespace takes no new content.
    refused = await api.client.post(CM.format(ns="doomed"), json={"metadata": {"name": "late"}})
    assert_status(refused, 403, "Forbidden",
                  'configmaps "late" is forbidden: unable to create new content in namespace doomed because it '
                  "is being terminated",
                  {"name": "late", "kind": "configmaps", "causes": [
                      {"reason": "NamespaceTerminating", "message": "namespace doomed is being terminated",
                       "field": "metadata.namespace"}]})
    still = await api.get(f"{NAMESPACES}/doomed")
    assert still["status"]["phase"] == "Terminating"
    assert names((await api.get(f"{NAMESPACES}?fieldSelector=status.phase%3DTerminating"))["items"]) == ["doomed"]
    # Deleting again is accepted and changes nothing.
    again = await api.client.delete(f"{NAMESPACES}/doomed")
    assert again.status_code == 200 and again.json()["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]

    released = await api.client.patch(f"{CM.format(ns='doomed')}/held", headers=MERGE_PATCH,
                                      json={"metadata": {"finalizers": None}})
    assert released.status_code == 200, released.text
    await _gone(api, f"{NAMESPACES}/doomed")
    assert (await api.get("/api/v1/configmaps?fieldSelector=metadata.namespace%3Ddoomed"))["items"] == []
    # the name can be used again
    assert (await api.namespace("doomed"))["status"]["phase"] == "Active"


async def test_a_deleted_namespace_refuses_content_at_once(api):
    # NamespaceLifecycle reads namespaces from the shared informer; one this server just deleted
    # is looked up live instead (kube's forceLiveLookupCache), so no create slips in meanwhile.
    await api.namespace("brief")
    await api.configmap("brief", "first", {})  # the informer has seen the namespace by now
    deleted = await api.client.delete(f"{NAMESPACES}/brief")
    assert deleted.status_code == 200, deleted.text
    refused = await api.client.post(CM.format(ns="brief"), json={"metadata": {"name": "late"}})
    assert refused.status_code == 403 and refused.json()["details"]["causes"][0]["reason"] == \
        "NamespaceTerminating", refused.text


async def test_immortal_namespaces_cannot_be_deleted(api):
    for name in ("default", "kube-system", "kube-public"):
        response = await api.client.delete(f"{NAMESPACES}/{name}")
        assert_status(response, 403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                      {"name": name, "kind": "namespaces"})
        assert (await api.get(f"{NAMESPACES}/{name}"))["status"] == {"phase": "Active"}


# --- discovery and OpenAPI ---------------------------------------------------------------------

async def test_legacy_discovery(api):
    versions = await api.get("/api")
    assert versions["kind"] == "APIVersions" and versions["versions"] == ["v1"]
    resources = await api.get("/api/v1")
    assert resources["kind"] == "APIResourceList" and resources["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in resources["resources"]}
    assert {"namespaces", "namespaces/status", "namespaces/finalize", "configmaps", "secrets"} <= set(by_name)
    cm = by_name["configmaps"]
    assert (cm["kind"], cm["namespaced"], cm["singularName"], cm["shortNames"]) == ("ConfigMap", True, "configmap", ["cm"])
    assert sorted(cm["verbs"]) == ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    ns = by_name["namespaces"]
    assert ns["namespaced"] is False and "deletecollection" not in ns["verbs"] and ns["shortNames"] == ["ns"]
    groups = await api.get("/apis")
    assert groups["kind"] == "APIGroupList" and isinstance(groups["groups"], list)


async def test_aggregated_discovery(api):
    for path in ("/api", "/apis"):
        response = await api.client.get(path, headers={"accept": KUBECTL_DISCOVERY})
        assert response.status_code == 200
        assert response.headers["content-type"] == AGGREGATED  # exactly: kubectl matches it
        body = response.json()
        assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2"
    core = (await api.client.get("/api", headers={"accept": AGGREGATED})).json()["items"]
    assert len(core) == 1 and core[0]["metadata"] == {}
    [v1] = core[0]["versions"]
    assert v1["version"] == "v1" and v1["freshness"] == "Current"
    resources = {r["resource"]: r for r in v1["resources"]}
    assert resources["configmaps"]["responseKind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert resources["configmaps"]["scope"] == "Namespaced" and resources["namespaces"]["scope"] == "Cluster"
    assert {s["subresource"] for s in resources["namespaces"]["subresources"]} == {"status", "finalize"}
    legacy = await api.client.get("/api", headers={"accept": "application/json"})
    assert legacy.headers["content-type"] == "application/json" and legacy.json()["kind"] == "APIVersions"


async def test_openapi(api):
    index = await api.get("/openapi/v3")
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/api/v1?hash=")
    document = await api.get(url)
    schemas = document["components"]["schemas"]
    configmap = schemas["io.k8s.api.core.v1.ConfigMap"]
    assert configmap["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "ConfigMap", "version": "v1"}]
    assert {"data", "binaryData", "immutable", "metadata"} <= set(configmap["properties"])
    assert "io.k8s.api.core.v1.Namespace" in schemas and "io.k8s.api.core.v1.Secret" in schemas
    item = document["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "kind": "ConfigMap", "version": "v1"}
    parameters = [p.get("name") for p in patch.get("parameters", []) + item.get("parameters", [])]
    assert "fieldValidation" in parameters
    swagger = await api.get("/openapi/v2")
    assert swagger["swagger"] == "2.0" and "io.k8s.api.core.v1.ConfigMap" in swagger["definitions"]
    assert_status(await api.client.get("/openapi/v3/apis/nothing.example.com/v1"), 404, "NotFound")
