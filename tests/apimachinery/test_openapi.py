"""OpenAPI v3 and v2 documents generated from ResourceSpecs, and how they are served."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest

from kernel.endpoints.apigroup import APIGroup
from kernel.endpoints.openapi import (
    OpenAPIService,
    install_openapi,
    meta,
    openapi_routes,
    v2,
    v3,
)
from kernel.registry.resource import ResourceSpec
from kernel.endpoints.request import Request

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
WIDGET, GIZMO = "com.example.v1.Widget", "io.k8s.api.core.v1.Gizmo"
ACTIONS = {"get", "list", "watch", "post", "put", "patch", "delete", "deletecollection"}
PATCH_TYPES = {"application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"}
PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def _metadata_ref() -> dict[str, Any]:
    return {"allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}], "default": {},
            "description": "Standard object's metadata."}


SHARED = {OBJECT_META: {"description": "ObjectMeta is metadata that all persisted resources "
                                       "must have.", "type": "object",
                        "properties": {"name": {"type": "string"},
                                       "labels": {"type": "object", "additionalProperties":
                                                  {"type": "string", "default": ""}}}}}
WIDGETS = ResourceSpec(
    group="example.com", version="v1", kind="Widget", plural="widgets", singular="widget",
    namespaced=True, schema_name=WIDGET, subresources=("status",),
    schemas={WIDGET: {"description": "A widget.", "type": "object",
                      "properties": {"metadata": _metadata_ref(),
                                     "spec": {"$ref": f"#/components/schemas/{WIDGET}Spec"},
                                     "status": {"type": "object", "nullable": True}}},
             "com.example.v1.WidgetSpec": {"type": "object", "properties": {
                 "size": {"type": "integer", "format": "int32"},
                 "shape": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}},
             **SHARED})
GIZMOS = ResourceSpec(
    group="", version="v1", kind="Gizmo", plural="gizmos", singular="gizmo", namespaced=False,
    schema_name=GIZMO, verbs=("create", "get", "list", "patch", "update", "watch"),
    schemas={GIZMO: {"description": "A gizmo.", "type": "object",
                     "properties": {"metadata": _metadata_ref(), "color": {"type": "string"}}},
             **SHARED})
GROUPS = [APIGroup("", "v1", [GIZMOS]), APIGroup("example.com", "v1", [WIDGETS])]


async def call(handler: Any, path: str, headers: dict[str, str] | None = None,
               query: str = "") -> tuple[int, dict[str, str], bytes]:
    """Run a handler on a real Request; (status, headers, body) as the client sees them."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(),
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
    await handler(Request(scope, receive, send))
    response_headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], response_headers, b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture(scope="module")
def service() -> OpenAPIService:
    return OpenAPIService(GROUPS, version="v1.32.4")


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items()
            for method, op in item.items() if method != "parameters"]


def kubectl_supports_field_validation(doc: dict[str, Any], gvk: dict[str, str]) -> bool:
    """What kubectl's QueryParamVerifierV3 checks: a PATCH with the GVK takes fieldValidation."""
    for _, method, op in operations(doc):
        if method == "patch" and op.get("x-kubernetes-group-version-kind") == gvk:
            return any(p["name"] == "fieldValidation" and p["in"] == "query"
                       for p in op.get("parameters", ()))
    return False


# -- v3 documents -------------------------------------------------------------------------------

def test_index_lists_every_document_with_its_hash(service: OpenAPIService) -> None:
    index = json.loads(service.index.body)
    assert set(index["paths"]) == {"api", "api/v1", "apis", "apis/example.com",
                                   "apis/example.com/v1"}
    url = urlsplit(index["paths"]["api/v1"]["serverRelativeURL"])
    assert url.path == "/openapi/v3/api/v1"
    body = service.encoded["api/v1"].body
    assert parse_qs(url.query)["hash"] == [hashlib.sha512(body).hexdigest().upper()]


def test_hash_changes_only_for_the_document_whose_schema_changed(service: OpenAPIService) -> None:
    schemas = copy.deepcopy(dict(GIZMOS.schemas))
    schemas[GIZMO]["properties"]["shade"] = {"type": "string"}
    changed = OpenAPIService([APIGroup("", "v1", [msgspec.structs.replace(GIZMOS, schemas=schemas)]),
                              GROUPS[1]], version="v1.32.4")
    assert changed.hash("api/v1") != service.hash("api/v1")
    assert changed.hash("apis/example.com/v1") == service.hash("apis/example.com/v1")


def test_paths_follow_kube_layout(service: OpenAPIService) -> None:
    widgets = service.documents["apis/example.com/v1"]["paths"]
    assert set(widgets) == {
        "/apis/example.com/v1/",
        "/apis/example.com/v1/widgets",
        "/apis/example.com/v1/namespaces/{namespace}/widgets",
        "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}",
        "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status"}
    gizmos = service.documents["api/v1"]["paths"]
    assert set(gizmos) == {"/api/v1/", "/api/v1/gizmos", "/api/v1/gizmos/{name}"}
    # only the verbs the resource has: no delete, no deletecollection
    assert set(gizmos["/api/v1/gizmos/{name}"]) == {"get", "patch", "put", "parameters"}
    assert set(gizmos["/api/v1/gizmos"]) == {"get", "post", "parameters"}


def test_operation_ids_and_actions(service: OpenAPIService) -> None:
    ids = {op["operationId"]: (op.get("x-kubernetes-action"), path)
           for doc in service.documents.values() for path, _, op in operations(doc)}
    assert ids["listExampleComV1WidgetForAllNamespaces"] == ("list", "/apis/example.com/v1/widgets")
    assert ids["deleteExampleComV1CollectionNamespacedWidget"][0] == "deletecollection"
    assert ids["patchExampleComV1NamespacedWidgetStatus"][0] == "patch"
    assert ids["replaceExampleComV1NamespacedWidget"][0] == "put"
    assert ids["createCoreV1Gizmo"][0] == "post"
    assert ids["readCoreV1Gizmo"] == ("get", "/api/v1/gizmos/{name}")
    assert "getCoreAPIVersions" in ids and "getExampleComV1APIResources" in ids
    all_ids = [op["operationId"] for doc in service.documents.values()
               for _, _, op in operations(doc)]
    assert len(all_ids) == len(set(all_ids))


def test_every_resource_operation_has_a_gvk_and_writes_take_field_validation(
        service: OpenAPIService) -> None:
    checked = 0
    for key in ("api/v1", "apis/example.com/v1"):
        for path, method, op in operations(service.documents[key]):
            if path.endswith("/"):
                continue  # the discovery GET
            assert op["x-kubernetes-action"] in ACTIONS
            gvk = op["x-kubernetes-group-version-kind"]
            assert isinstance(gvk, dict) and set(gvk) == {"group", "version", "kind"}
            if method in ("patch", "post", "put"):
                query = {p["name"] for p in op["parameters"] if p["in"] == "query"}
                assert {"fieldValidation", "fieldManager", "dryRun"} <= query
                checked += 1
    assert checked == 8  # widgets: post, put, patch, status put and patch; gizmos: post, put, patch
    assert kubectl_supports_field_validation(
        service.documents["api/v1"], {"group": "", "version": "v1", "kind": "Gizmo"})
    assert kubectl_supports_field_validation(
        service.documents["apis/example.com/v1"],
        {"group": "example.com", "version": "v1", "kind": "Widget"})


def test_parameters_and_bodies(service: OpenAPIService) -> None:
    paths = service.documents["apis/example.com/v1"]["paths"]
    item = paths["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]
    assert [(p["name"], p["in"]) for p in item["parameters"]] == [
        ("name", "path"), ("namespace", "path"), ("pretty", "query")]
    assert all(p.get("required") for p in item["parameters"] if p["in"] == "path")
    assert set(item["patch"]["requestBody"]["content"]) == PATCH_TYPES
    assert {p["name"] for p in item["patch"]["parameters"]} >= {"force"}
    assert item["put"]["requestBody"]["content"]["*/*"]["schema"] == {
        "$ref": f"#/components/schemas/{WIDGET}"}
    listing = paths["/apis/example.com/v1/namespaces/{namespace}/widgets"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
        "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds",
        "watch"}
    content = listing["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{WIDGET}List"}
    assert "application/json;stream=watch" in content
    delete = item["delete"]
    assert delete["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "meta.v1.Status")
    assert delete["requestBody"]["content"]["*/*"]["schema"]["$ref"].endswith(
        "meta.v1.DeleteOptions")


def test_component_schemas(service: OpenAPIService) -> None:
    schemas = service.documents["apis/example.com/v1"]["components"]["schemas"]
    assert schemas[WIDGET]["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}]
    widget_list = schemas[WIDGET + "List"]
    assert widget_list["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "WidgetList", "version": "v1"}]
    assert widget_list["properties"]["items"]["items"]["allOf"] == [
        {"$ref": f"#/components/schemas/{WIDGET}"}]
    assert widget_list["properties"]["metadata"]["allOf"] == [
        {"$ref": f"#/components/schemas/{meta.LIST_META}"}]
    for name in (OBJECT_META, "com.example.v1.WidgetSpec", meta.STATUS, meta.STATUS_DETAILS,
                 meta.DELETE_OPTIONS, meta.PRECONDITIONS, meta.PATCH, meta.LIST_META,
                 meta.API_RESOURCE_LIST):
        assert name in schemas, name
    # components only of the other group-version stay out
    assert GIZMO not in schemas
    # the resource's own mapping is not modified by decorating it
    assert "x-kubernetes-group-version-kind" not in WIDGETS.schemas[WIDGET]


def test_no_document_has_a_dangling_reference(service: OpenAPIService) -> None:
    for key, doc in service.documents.items():
        schemas = doc["components"]["schemas"]
        assert set(v3.iter_refs(doc)) <= set(schemas), key


def test_missing_schema_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    lonely = msgspec.structs.replace(GIZMOS, schemas={GIZMO: GIZMOS.schemas[GIZMO]})
    with caplog.at_level(logging.WARNING, logger="kernel.openapi"):
        v3.build_documents([APIGroup("", "v1", [lonely])])
    assert OBJECT_META in caplog.text


def test_meta_schemas_name_served_group_versions() -> None:
    schemas = meta.meta_schemas([("example.com", "v1"), ("", "v1")])
    assert schemas[meta.DELETE_OPTIONS]["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "DeleteOptions", "version": "v1"},
        {"group": "example.com", "kind": "DeleteOptions", "version": "v1"}]
    assert schemas[meta.STATUS]["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Status", "version": "v1"}]


# -- v2 ---------------------------------------------------------------------------------------

def test_v2_document(service: OpenAPIService) -> None:
    body = service.swagger.body
    assert b"#/components/schemas/" not in body
    doc = json.loads(body)
    assert doc["swagger"] == "2.0"
    definitions = doc["definitions"]
    assert definitions[WIDGET]["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}]
    # allOf wrappers become plain refs with their siblings kept
    assert definitions[WIDGET]["properties"]["metadata"] == {
        "$ref": f"#/definitions/{OBJECT_META}", "default": {},
        "description": "Standard object's metadata."}
    assert definitions[WIDGET]["properties"]["status"] == {"type": "object", "x-nullable": True}
    assert "oneOf" not in definitions["com.example.v1.WidgetSpec"]["properties"]["shape"]
    assert {GIZMO, WIDGET, meta.STATUS, meta.DELETE_OPTIONS} <= set(definitions)

    item = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]
    patch = item["patch"]
    assert set(patch["consumes"]) == PATCH_TYPES
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "example.com", "version": "v1", "kind": "Widget"}
    body_param, *query = patch["parameters"]
    assert body_param == {"in": "body", "name": "body", "required": True,
                          "schema": {"$ref": f"#/definitions/{meta.PATCH}"}}
    assert {"name": "fieldValidation", "in": "query", "type": "string",
            "uniqueItems": True}.items() <= next(
                p for p in query if p["name"] == "fieldValidation").items()
    assert patch["responses"]["200"]["schema"] == {"$ref": f"#/definitions/{WIDGET}"}
    assert item["parameters"][0]["type"] == "string" and "schema" not in item["parameters"][0]


def test_v2_conversion_leaves_input_alone() -> None:
    schema = {"allOf": [{"$ref": "#/components/schemas/X"}], "description": "d"}
    assert v2.to_v2_schema(schema) == {"$ref": "#/definitions/X", "description": "d"}
    assert schema == {"allOf": [{"$ref": "#/components/schemas/X"}], "description": "d"}
    # a property that happens to be called "nullable" is a property, not the keyword
    props = v2.to_v2_schema({"properties": {"nullable": {"type": "boolean"}}})
    assert props == {"properties": {"nullable": {"type": "boolean"}}}


# -- serving ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def routes() -> dict[str, Any]:
    return openapi_routes(GROUPS, version="v1.32.4")


def test_install_mounts_every_document_with_the_server_version() -> None:
    server = SimpleNamespace(api_groups={g.prefix: g for g in GROUPS}, non_resource={})
    service = install_openapi(server)
    assert set(server.non_resource) == {
        "/openapi/v2", "/openapi/v3", "/openapi/v3/api", "/openapi/v3/api/v1",
        "/openapi/v3/apis", "/openapi/v3/apis/example.com", "/openapi/v3/apis/example.com/v1"}
    assert service.documents["api/v1"]["info"]["version"].startswith("v1.32.")


async def test_index_route(routes: dict[str, Any]) -> None:
    code, headers, body = await call(routes["/openapi/v3"], "/openapi/v3")
    assert code == 200 and headers["content-type"] == "application/json"
    assert "apis/example.com/v1" in json.loads(body)["paths"]
    code, _, _ = await call(routes["/openapi/v3"], "/openapi/v3",
                            {"If-None-Match": headers["etag"]})
    assert code == 304


async def test_document_with_current_hash_is_immutable(routes: dict[str, Any]) -> None:
    _, _, index = await call(routes["/openapi/v3"], "/openapi/v3")
    url = urlsplit(json.loads(index)["paths"]["apis/example.com/v1"]["serverRelativeURL"])
    code, headers, body = await call(routes[url.path], url.path, {"Accept": "application/json"},
                                     query=url.query)
    assert code == 200 and headers["content-type"] == "application/json"
    assert headers["cache-control"] == "public, immutable" and headers["expires"]
    etag = headers["etag"]
    assert etag == f'"{parse_qs(url.query)["hash"][0]}"'
    assert json.loads(body)["openapi"].startswith("3.0")

    code, headers, _ = await call(routes[url.path], url.path)
    assert code == 200 and "immutable" not in headers["cache-control"]

    code, headers, _ = await call(routes[url.path], url.path, query="hash=STALE")
    assert code == 301 and headers["location"] == f"{url.path}?{url.query}"

    code, _, body = await call(routes[url.path], url.path, {"If-None-Match": etag},
                               query=url.query)
    assert code == 304 and body == b""


V2_PROTOBUF_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


@pytest.mark.parametrize(("path", "accept", "expected", "content_type"), [
    ("/openapi/v3/api/v1", "application/com.github.proto-openapi.spec.v3@v1.0+protobuf", 406, ""),
    ("/openapi/v3/api/v1",
     "application/com.github.proto-openapi.spec.v3@v1.0+protobuf,application/json", 200, "application/json"),
    # v2 in protobuf is what kubectl validates a kind: List with (gnostic's Document; kube answers
    # with the dotted media type Go can parse)
    ("/openapi/v2", PROTOBUF_V2, 200, V2_PROTOBUF_TYPE),
    ("/openapi/v2", f"{PROTOBUF_V2},application/json;q=0.9", 200, V2_PROTOBUF_TYPE),
    ("/openapi/v2", f"application/json,{PROTOBUF_V2}", 200, "application/json"),
    ("/openapi/v2", "*/*", 200, "application/json"),
    ("/openapi/v2", "", 200, "application/json"),
    ("/openapi/v2", "application/yaml", 406, ""),
])
async def test_content_negotiation(routes: dict[str, Any], path: str, accept: str,
                                   expected: int, content_type: str) -> None:
    code, headers, body = await call(routes[path], path, {"Accept": accept} if accept else {})
    assert code == expected
    if code != 200:
        assert json.loads(body)["reason"] == "NotAcceptable"
    elif content_type == "application/json":
        assert headers["content-type"] == content_type
        json.loads(body)
    else:
        assert headers["content-type"] == content_type and body[:2] == b"\n\x03"  # swagger = "2.0"
