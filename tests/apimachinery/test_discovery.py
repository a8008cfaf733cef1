"""Discovery documents and their serving: legacy and aggregated, negotiation, ETags."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from kernel.endpoints.apigroup import APIGroup
from kernel.endpoints.discovery import (
    api_resource_list,
    discovery_routes,
    install_discovery,
    negotiate_discovery,
    parse_accept,
    sort_groups,
    storage_version_hash,
    version_priority,
)
from kernel.registry.resource import ResourceSpec
from kernel.endpoints.request import Request

KUBECTL_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                  "application/json")
V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

WIDGETS = ResourceSpec(
    group="example.com", version="v1", kind="Widget", plural="widgets", singular="widget",
    namespaced=True, schema_name="com.example.v1.Widget",
    schemas={"com.example.v1.Widget": {"type": "object"}},
    short_names=("wd",), categories=("all",), subresources=("status",))
WIDGETS_BETA = ResourceSpec(
    group="example.com", version="v1beta1", kind="Widget", plural="widgets", singular="widget",
    namespaced=True, schema_name="com.example.v1beta1.Widget", schemas={},
    verbs=("get", "list"))
GIZMOS = ResourceSpec(
    group="", version="v1", kind="Gizmo", plural="gizmos", singular="gizmo", namespaced=False,
    schema_name="io.k8s.api.core.v1.Gizmo", schemas={}, verbs=("get", "list", "watch", "create"))
DEPLOYS = ResourceSpec(
    group="apps", version="v1", kind="Deployment", plural="deployments", singular="deployment",
    namespaced=True, schema_name="io.k8s.api.apps.v1.Deployment", schemas={},
    subresources=("status", "scale"))


async def _custom(request: Request) -> None:
    await request.respond_json({})


GROUPS = [APIGroup("example.com", "v1beta1", [WIDGETS_BETA]),
          APIGroup("example.com", "v1", [WIDGETS]), APIGroup("apps", "v1", [DEPLOYS]),
          APIGroup("", "v1", [GIZMOS]),
          APIGroup("custom.io", "v1", handler=_custom)]


async def call(handler: Any, path: str, headers: dict[str, str] | None = None,
               query: str = "", method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Run a handler on a real Request; (status, headers, body) as the client sees them."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(),
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
             "server": ("127.0.0.1", 6443)}
    await handler(Request(scope, receive, send))
    start = sent[0]
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], response_headers, b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture(scope="module")
def routes() -> dict[str, Any]:
    return discovery_routes(GROUPS)


# -- negotiation --------------------------------------------------------------------------------

def test_parse_accept_orders_by_q_then_specificity_and_drops_q0() -> None:
    ranges = parse_accept("*/*;q=0.8, text/html;q=0, application/*, application/json;v=v2")
    assert [(r.type, r.subtype) for r in ranges] == [
        ("application", "json"), ("application", "*"), ("*", "*")]
    assert ranges[0].params == {"v": "v2"} and ranges[2].q == 0.8


@pytest.mark.parametrize(("accept", "expected"), [
    (KUBECTL_ACCEPT, "v2"),
    ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
     "v2beta1"),
    ("application/json", ""),
    ("", ""),
    ("*/*", ""),
    # a conversion discovery cannot do is skipped, not answered with something else
    ("application/json;as=Table;v=v1;g=meta.k8s.io", None),
    ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", ""),
    ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList", None),
    # preference by q, not by position
    (f"application/json;q=0.5,{V2}", "v2"),
    (f"{V2};q=0.5,application/json", ""),
    ("application/vnd.kubernetes.protobuf", None),
    ("text/html", None),
])
def test_negotiate_discovery(accept: str, expected: str | None) -> None:
    assert negotiate_discovery(accept, aggregated=True) == expected


def test_aggregated_is_refused_where_only_legacy_is_served() -> None:
    assert negotiate_discovery(KUBECTL_ACCEPT, aggregated=False) == ""
    assert negotiate_discovery(V2, aggregated=False) is None


# -- ordering and pure documents ---------------------------------------------------------------

def test_versions_sort_kube_aware() -> None:
    versions = ["v1alpha1", "v2beta1", "foo", "v1", "v1beta2", "v2", "v1beta1", "v10"]
    assert sorted(versions, key=version_priority) == [
        "v10", "v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"]


def test_groups_sort_core_first_then_by_name_preferred_version_first() -> None:
    ordered = sort_groups(GROUPS)
    assert [name for name, _ in ordered] == ["", "apps", "custom.io", "example.com"]
    assert [g.version for g in dict(ordered)["example.com"]] == ["v1", "v1beta1"]


def test_storage_version_hash_matches_kube() -> None:
    # values a real kube-apiserver reports for pods and deployments
    assert storage_version_hash("", "v1", "Pod") == "xPOwRZ+Yhw8="
    assert storage_version_hash("apps", "v1", "Deployment") == "8aSe+NMegvE="


def test_api_resource_list_subresources() -> None:
    doc = api_resource_list(APIGroup("apps", "v1", [DEPLOYS]))
    assert [r["name"] for r in doc["resources"]] == [
        "deployments", "deployments/scale", "deployments/status"]
    main, scale, status = doc["resources"]
    assert main["verbs"] == sorted(main["verbs"]) and main["storageVersionHash"]
    assert status == {"name": "deployments/status", "singularName": "", "namespaced": True,
                      "kind": "Deployment", "verbs": ["get", "patch", "update"]}
    assert scale["group"] == "autoscaling" and scale["version"] == "v1"
    assert scale["kind"] == "Scale"


# -- served documents ---------------------------------------------------------------------------

def test_install_mounts_on_the_server_next_to_existing_routes() -> None:
    server = SimpleNamespace(api_groups={g.prefix: g for g in GROUPS},
                             non_resource={"/version": _custom})
    install_discovery(server)
    assert server.non_resource["/version"] is _custom
    assert {"/api", "/apis", "/api/v1", "/apis/example.com/v1"} <= set(server.non_resource)


def test_routes_cover_every_discovery_path(routes: dict[str, Any]) -> None:
    assert set(routes) == {"/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1",
                           "/apis/example.com", "/apis/example.com/v1",
                           "/apis/example.com/v1beta1", "/apis/custom.io"}
    # /apis/custom.io/v1 is left to the group's own handler


async def test_aggregated_apis(routes: dict[str, Any]) -> None:
    code, headers, body = await call(routes["/apis"], "/apis", {"Accept": KUBECTL_ACCEPT})
    assert code == 200
    assert headers["content-type"] == V2
    assert headers["vary"] == "Accept"
    doc = json.loads(body)
    assert doc["kind"] == "APIGroupDiscoveryList"
    assert doc["apiVersion"] == "apidiscovery.k8s.io/v2" and doc["metadata"] == {}
    assert [item["metadata"] for item in doc["items"]] == [
        {"name": "apps"}, {"name": "custom.io"}, {"name": "example.com"}]
    example = doc["items"][2]
    assert [v["version"] for v in example["versions"]] == ["v1", "v1beta1"]
    assert all(v["freshness"] == "Current" for v in example["versions"])
    widgets = example["versions"][0]["resources"][0]
    assert widgets == {
        "resource": "widgets",
        "responseKind": {"group": "example.com", "version": "v1", "kind": "Widget"},
        "scope": "Namespaced", "singularResource": "widget",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                  "watch"],
        "shortNames": ["wd"], "categories": ["all"],
        "subresources": [{"subresource": "status",
                          "responseKind": {"group": "example.com", "version": "v1",
                                           "kind": "Widget"},
                          "verbs": ["get", "patch", "update"]}],
    }
    beta = example["versions"][1]["resources"][0]
    assert "shortNames" not in beta and "subresources" not in beta
    scale = doc["items"][0]["versions"][0]["resources"][0]["subresources"][0]
    assert scale["subresource"] == "scale"
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}


async def test_aggregated_api_is_the_core_group(routes: dict[str, Any]) -> None:
    code, headers, body = await call(routes["/api"], "/api", {"Accept": KUBECTL_ACCEPT})
    assert code == 200 and headers["content-type"] == V2
    (core,) = json.loads(body)["items"]
    assert core["metadata"] == {}
    (gizmos,) = core["versions"][0]["resources"]
    assert gizmos["scope"] == "Cluster"
    assert gizmos["verbs"] == ["create", "get", "list", "watch"]


async def test_aggregated_v2beta1(routes: dict[str, Any]) -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    code, headers, body = await call(routes["/apis"], "/apis", {"Accept": accept})
    assert code == 200 and headers["content-type"] == accept
    assert json.loads(body)["apiVersion"] == "apidiscovery.k8s.io/v2beta1"


async def test_legacy_api_names_the_address_the_client_used(routes: dict[str, Any]) -> None:
    code, headers, body = await call(routes["/api"], "/api", {"Host": "kube.example:8443"})
    assert code == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "kind": "APIVersions", "apiVersion": "v1", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                        "serverAddress": "kube.example:8443"}]}
    _, _, body = await call(routes["/api"], "/api")
    assert json.loads(body)["serverAddressByClientCIDRs"][0]["serverAddress"] == "127.0.0.1:6443"


async def test_legacy_group_list_and_group(routes: dict[str, Any]) -> None:
    _, headers, body = await call(routes["/apis"], "/apis", {"Accept": "application/json"})
    assert headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["kind"] == "APIGroupList"
    assert [g["name"] for g in doc["groups"]] == ["apps", "custom.io", "example.com"]
    example = doc["groups"][2]
    assert example["preferredVersion"] == {"groupVersion": "example.com/v1", "version": "v1"}
    assert [v["version"] for v in example["versions"]] == ["v1", "v1beta1"]

    _, _, body = await call(routes["/apis/example.com"], "/apis/example.com")
    assert json.loads(body) == {"kind": "APIGroup", "apiVersion": "v1", **example}


async def test_legacy_resource_lists(routes: dict[str, Any]) -> None:
    _, _, body = await call(routes["/api/v1"], "/api/v1", {"Accept": KUBECTL_ACCEPT})
    doc = json.loads(body)
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == "v1"
    assert [(r["name"], r["namespaced"]) for r in doc["resources"]] == [("gizmos", False)]

    _, _, body = await call(routes["/apis/example.com/v1"], "/apis/example.com/v1")
    doc = json.loads(body)
    assert doc["groupVersion"] == "example.com/v1"
    assert [r["name"] for r in doc["resources"]] == ["widgets", "widgets/status"]
    assert doc["resources"][0]["shortNames"] == ["wd"]


async def test_group_version_refuses_aggregated_only_accept(routes: dict[str, Any]) -> None:
    code, _, body = await call(routes["/apis/example.com/v1"], "/apis/example.com/v1",
                               {"Accept": V2})
    assert code == 406 and json.loads(body)["reason"] == "NotAcceptable"


async def test_etag_and_not_modified(routes: dict[str, Any]) -> None:
    _, aggregated, _ = await call(routes["/apis"], "/apis", {"Accept": V2})
    _, legacy, _ = await call(routes["/apis"], "/apis")
    assert aggregated["etag"].startswith('"') and aggregated["etag"] != legacy["etag"]
    assert aggregated["cache-control"] == "public"

    code, headers, body = await call(routes["/apis"], "/apis",
                                     {"Accept": V2, "If-None-Match": aggregated["etag"]})
    assert code == 304 and body == b"" and headers["etag"] == aggregated["etag"]
    # an ETag of the other representation does not match
    code, _, body = await call(routes["/apis"], "/apis",
                               {"Accept": V2, "If-None-Match": legacy["etag"]})
    assert code == 200 and body


async def test_head_has_no_body(routes: dict[str, Any]) -> None:
    code, headers, body = await call(routes["/apis"], "/apis", method="HEAD")
    assert code == 200 and body == b"" and int(headers["content-length"]) > 0


async def test_unacceptable_media_type_is_406(routes: dict[str, Any]) -> None:
    code, headers, body = await call(routes["/apis"], "/apis", {"Accept": "text/html"})
    assert code == 406 and json.loads(body)["code"] == 406
