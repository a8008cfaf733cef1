"""Lists over HTTP as kube-apiserver answers them: selectors, pagination, resourceVersion semantics."""

from __future__ import annotations

import base64
import json

from rest_helpers import CM, NAMESPACES, SECRETS, aiter_pages, assert_status, names

CMS = CM.format(ns="default")
MERGE_PATCH = {"content-type": "application/merge-patch+json"}


async def _labelled(api) -> None:
    await api.namespace("shop")
    shop = CM.format(ns="shop")
    for name, labels in (("a", {"app": "web", "env": "prod", "tier": "front"}),
                         ("b", {"app": "web", "env": "staging"}),
                         ("c", {"app": "db", "env": "prod", "tier": "back"}),
                         ("d", {})):
        response = await api.client.post(shop, json={"metadata": {"name": name, "labels": labels}})
        assert response.status_code == 201, response.text


async def test_label_selectors_equality_and_set_based(api):
    await _labelled(api)
    shop = CM.format(ns="shop")
    cases = {
        "app=web": ["a", "b"], "app==web": ["a", "b"], "app!=web": ["c", "d"],
        "app=web,env=prod": ["a"], "env in (prod,staging)": ["a", "b", "c"],
        "env notin (prod)": ["b", "d"], "tier": ["a", "c"], "!tier": ["b", "d"],
        "app in (web),tier notin (back)": ["a", "b"], "": ["a", "b", "c", "d"], "app=nope": [],
    }
    for selector, expected in cases.items():
        listed = await api.client.get(shop, params={"labelSelector": selector})
        assert listed.status_code == 200, (selector, listed.text)
        assert names(listed.json()["items"]) == expected, selector
    bad = await api.client.get(shop, params={"labelSelector": "app in (web"})
    assert_status(bad, 400, "BadRequest")
    bad_value = await api.client.get(shop, params={"labelSelector": "app=-x-"})
    assert_status(bad_value, 400, "BadRequest")


async def test_field_selectors(api):
    await _labelled(api)
    shop = CM.format(ns="shop")
    assert names((await api.get(f"{shop}?fieldSelector=metadata.name%3Db"))["items"]) == ["b"]
    assert names((await api.get(f"{shop}?fieldSelector=metadata.name!%3Db"))["items"]) == ["a", "c", "d"]
    everywhere = await api.get("/api/v1/configmaps?fieldSelector=metadata.namespace%3Dshop,metadata.name!%3Da")
    assert names(everywhere["items"]) == ["b", "c", "d"]
    both = await api.get(f"{shop}?fieldSelector=metadata.name%3Dc&labelSelector=env%3Dprod")
    assert names(both["items"]) == ["c"]

    secrets = SECRETS.format(ns="shop")
    for name, kind in (("s1", "Opaque"), ("s2", "example.com/custom"), ("s3", None)):
        body = {"metadata": {"name": name}, "stringData": {"k": "v"}}
        if kind:
            body["type"] = kind
        assert (await api.client.post(secrets, json=body)).status_code == 201
    assert names((await api.get(f"{secrets}?fieldSelector=type%3DOpaque"))["items"]) == ["s1", "s3"]
    assert names((await api.get(f"{secrets}?fieldSelector=type%3Dexample.com/custom"))["items"]) == ["s2"]

    await api.namespace("going")
    await api.configmap("going", "held", {}, finalizers=["example.com/hold"])
    assert (await api.client.delete(f"{NAMESPACES}/going")).status_code == 200
    terminating = await api.get(f"{NAMESPACES}?fieldSelector=status.phase%3DTerminating")
    assert names(terminating["items"]) == ["going"]
    active = names((await api.get(f"{NAMESPACES}?fieldSelector=status.phase%3DActive"))["items"])
    assert "going" not in active and {"default", "kube-system", "shop"} <= set(active)
    by_name = await api.get(f"{NAMESPACES}?fieldSelector=metadata.name%3Dshop")
    assert names(by_name["items"]) == ["shop"]


async def test_unsupported_field_selectors_are_400_with_kubes_message(api):
    configmaps = await api.client.get(CMS, params={"fieldSelector": "spec.foo=x"})
    assert_status(configmaps, 400, "BadRequest",
                  '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"')
    secrets = await api.client.get(SECRETS.format(ns="default"), params={"fieldSelector": "data.k=x"})
    assert_status(secrets, 400, "BadRequest", "field label not supported: data.k")
    # Namespaces have status.phase and metadata.name only (AddFieldLabelConversionsForNamespace).
    for label in ("metadata.namespace", "name", "spec.finalizers"):
        namespaces = await api.client.get(NAMESPACES, params={"fieldSelector": f"{label}=x"})
        assert_status(namespaces, 400, "BadRequest", f"field label not supported: {label}")
    watch = await api.client.get(CMS, params={"fieldSelector": "spec.foo=x", "watch": "true"})
    assert_status(watch, 400, "BadRequest")


async def test_all_namespaces_list(api):
    await api.namespace("ns-b")
    await api.namespace("ns-a")
    await api.configmap("ns-b", "one", {})
    await api.configmap("ns-a", "two", {})
    await api.configmap("default", "three", {})
    listed = await api.get("/api/v1/configmaps")
    assert listed["kind"] == "ConfigMapList" and listed["apiVersion"] == "v1"
    pairs = [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed["items"]]
    assert pairs == [("default", "three"), ("ns-a", "two"), ("ns-b", "one")]
    assert all(i["kind"] == "ConfigMap" and i["apiVersion"] == "v1" for i in listed["items"])
    namespaced = await api.get(CM.format(ns="ns-a"))
    assert names(namespaced["items"]) == ["two"] and namespaced["kind"] == "ConfigMapList"
    assert int(listed["metadata"]["resourceVersion"]) == int(namespaced["metadata"]["resourceVersion"])


async def test_pagination_is_consistent_at_the_first_pages_revision(api):
    await api.namespace("pages")
    path = CM.format(ns="pages")
    for name in ("a", "b", "c", "d", "e"):
        await api.configmap("pages", name, {"v": "1"})
    first = await api.get(f"{path}?limit=2")
    rv = first["metadata"]["resourceVersion"]
    assert names(first["items"]) == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 3 and first["metadata"]["continue"]
    token = json.loads(base64.urlsafe_b64decode(first["metadata"]["continue"] + "=="))
    assert token == {"v": "meta.k8s.io/v1", "rv": int(rv), "start": "b\x00"}

    # Writes between pages are not seen by the later pages.
    await api.configmap("pages", "cc", {"v": "new"})
    await api.client.delete(f"{path}/d")
    await api.client.patch(f"{path}/e", headers=MERGE_PATCH, json={"data": {"v": "2"}})
    second = await api.get(f"{path}?limit=2&continue={first['metadata']['continue']}")
    assert names(second["items"]) == ["c", "d"] and second["metadata"]["resourceVersion"] == rv
    assert second["metadata"]["remainingItemCount"] == 1
    third = await api.get(f"{path}?limit=2&continue={second['metadata']['continue']}")
    assert names(third["items"]) == ["e"] and third["items"][0]["data"] == {"v": "1"}
    assert third["metadata"] == {"resourceVersion": rv}
    # A fresh list sees the writes.
    assert names((await api.get(path))["items"]) == ["a", "b", "c", "cc", "e"]
    # With a selector kube cannot count what remains.
    selected = await api.get(f"{path}?limit=1&fieldSelector=metadata.name!%3Da")
    assert names(selected["items"]) == ["b"] and "remainingItemCount" not in selected["metadata"]
    assert selected["metadata"]["continue"]
    walked = [n for page in [p async for p in aiter_pages(api.client, path, {"limit": 2})]
              for n in names(page["items"])]
    assert walked == ["a", "b", "c", "cc", "e"]


async def test_bad_continue_tokens(api):
    bad = await api.client.get(CMS, params={"limit": "1", "continue": "not-a-token!"})
    body = assert_status(bad, 400, "BadRequest")
    assert body["message"].startswith("invalid continue token")
    other = base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":5,"start":"../../secrets/"}').decode()
    escape = await api.client.get(CMS, params={"limit": "1", "continue": other.rstrip("=")})
    assert_status(escape, 400, "BadRequest")


async def test_expired_continue_is_410_with_a_fresh_token(start_api):
    api = await start_api("--storage-memory-history=10")
    await api.namespace("old")
    path = CM.format(ns="old")
    for name in ("a", "b", "c", "d"):
        await api.configmap("old", name, {"v": "0"})
    first = await api.get(f"{path}?limit=2")
    assert names(first["items"]) == ["a", "b"]
    for i in range(15):  # push the first page's revision out of the retained history
        await api.client.patch(f"{path}/a", headers=MERGE_PATCH, json={"data": {"v": str(i + 1)}})
    expired = await api.client.get(path, params={"limit": "2", "continue": first["metadata"]["continue"]})
    body = assert_status(
        expired, 410, "Expired",
        "The provided continue parameter is too old to display a consistent list result. You can start "
        "a new list without the continue parameter, or use the continue token in this response to "
        "retrieve the remainder of the results. Continuing with the provided token results in an "
        "inconsistent list - objects that were created, modified, or deleted between the time the first "
        "chunk was returned and now may show up in the list.")
    fresh = body["metadata"]["continue"]
    assert json.loads(base64.urlsafe_b64decode(fresh + "==")) == {
        "v": "meta.k8s.io/v1", "rv": -1, "start": "b\x00"}
    rest = await api.get(f"{path}?limit=2&continue={fresh}")
    assert names(rest["items"]) == ["c", "d"]
    # An exact list at a compacted revision is gone too.
    too_old = await api.client.get(path, params={"resourceVersion": first["metadata"]["resourceVersion"],
                                                 "resourceVersionMatch": "Exact"})
    assert_status(too_old, 410, "Expired", "The resourceVersion for the provided list is too old.")


async def test_resource_version_and_match(api):
    await api.namespace("hist")
    path = CM.format(ns="hist")
    a = await api.configmap("hist", "a", {"v": "1"})
    b = await api.configmap("hist", "b", {"v": "1"})
    at_b = b["metadata"]["resourceVersion"]
    await api.client.delete(f"{path}/a")
    await api.client.patch(f"{path}/b", headers=MERGE_PATCH, json={"data": {"v": "2"}})
    now = await api.rv(path)

    past = await api.get(f"{path}?resourceVersion={at_b}&resourceVersionMatch=Exact")
    assert past["metadata"]["resourceVersion"] == at_b
    assert [(i["metadata"]["name"], i["data"]["v"]) for i in past["items"]] == [("a", "1"), ("b", "1")]
    assert past["items"][0]["metadata"]["resourceVersion"] == a["metadata"]["resourceVersion"]
    exact_paged = await api.get(f"{path}?resourceVersion={at_b}&resourceVersionMatch=Exact&limit=1")
    assert names(exact_paged["items"]) == ["a"] and exact_paged["metadata"]["resourceVersion"] == at_b
    rest = await api.get(f"{path}?limit=1&continue={exact_paged['metadata']['continue']}")
    assert [(i["metadata"]["name"], i["data"]["v"]) for i in rest["items"]] == [("b", "1")]

    for params in ({"resourceVersion": at_b, "resourceVersionMatch": "NotOlderThan"},
                   {"resourceVersion": at_b}, {"resourceVersion": "0"}, {}):
        listed = await api.client.get(path, params=params)
        assert listed.status_code == 200, (params, listed.text)
        assert int(listed.json()["metadata"]["resourceVersion"]) >= now, params
        assert [(i["metadata"]["name"], i["data"]["v"]) for i in listed.json()["items"]] == [("b", "2")]

    future = now + 1000
    too_new = await api.client.get(path, params={"resourceVersion": str(future),
                                                 "resourceVersionMatch": "NotOlderThan"})
    assert_status(too_new, 504, "Timeout", f"Timeout: Too large resource version: {future}, current: {now}",
                  {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                   "retryAfterSeconds": 1})
    assert too_new.headers["retry-after"] == "1"


async def test_invalid_list_options_are_422(api):
    prefix = 'ListOptions.meta.k8s.io "" is invalid: '
    cases = [
        ({"resourceVersionMatch": "Exact"},
         "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"),
        ({"resourceVersion": "0", "resourceVersionMatch": "Exact"},
         'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'),
        ({"resourceVersion": "5", "resourceVersionMatch": "Newest"},
         'resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""'),
        ({"resourceVersionMatch": "Newest"},
         '[resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is '
         'provided, resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", '
         '"NotOlderThan", ""]'),
        ({"sendInitialEvents": "true"}, "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"),
        ({"watch": "true", "resourceVersionMatch": "NotOlderThan"},
         "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless "
         "sendInitialEvents is provided"),
        ({"watch": "true", "sendInitialEvents": "true", "allowWatchBookmarks": "true"},
         "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to "
         "NotOlderThan"),
        ({"watch": "true", "sendInitialEvents": "true", "allowWatchBookmarks": "true",
          "resourceVersionMatch": "Exact"},
         "[resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to "
         'NotOlderThan, resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"]'),
    ]
    for params, message in cases:
        response = await api.client.get(CMS, params=params)
        body = assert_status(response, 422, "Invalid", prefix + message)
        assert body["details"]["kind"] == "ListOptions" and body["details"]["group"] == "meta.k8s.io"
    limit = await api.client.get(CMS, params={"limit": "x"})
    assert_status(limit, 400, "BadRequest")
