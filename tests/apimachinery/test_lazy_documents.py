"""Discovery and OpenAPI documents are built on their first request, not at startup nor on each
change of the groups, and what is built on demand is what an eager build gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kernel.apimachinery.schemas import OBJECT_META, meta_schemas, ref
from kernel.endpoints.apigroup import APIGroup
from kernel.endpoints.discovery import Encoded
from kernel.endpoints.openapi import (
    V2_PROTOBUF_MEDIA_TYPE, V2_PROTOBUF_SUBTYPES, OpenAPIService, document_keys, v2, v2proto, v3,
)
from kernel.server.apigroups import is_document_path
from kernel.registry.resource import ResourceSpec
from kernel.testing import assemble

GROUP = "lazy.example.com"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@pytest.fixture(scope="module")
def groups(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    server = assemble(tmp_path_factory.mktemp("lazy"), "--plugins=api_core,api_apps,storage_memory")
    return list(server.api_groups.values())


def test_each_document_built_alone_is_the_one_built_with_all_the_others(groups) -> None:
    eager = {key: Encoded.of(doc) for key, doc in v3.build_documents(groups, "v1.32.4").items()}
    assert list(eager) == document_keys(groups)
    assert {"api/v1", "apis/apps", "apis/apps/v1"} <= set(eager)
    for key in eager:  # a new service per key: nothing else built before it
        assert OpenAPIService(groups, "v1.32.4").encoded[key] == eager[key], key


def test_the_index_and_v2_are_what_the_eager_documents_give(groups) -> None:
    lazy = OpenAPIService(groups, "v1.32.4")
    lazy.encoded["apis/apps/v1"]  # one document built before the index, the rest with it
    eager = {key: Encoded.of(doc) for key, doc in v3.build_documents(groups, "v1.32.4").items()}
    index = json.loads(lazy.index.body)["paths"]
    assert sorted(index) == sorted(eager)
    for key, item in index.items():
        assert item["serverRelativeURL"] == \
            f"/openapi/v3/{key}?hash={eager[key].etag.strip(chr(34))}"
    swagger = v2.build_document(v3.build_documents(groups, "v1.32.4").values(), "v1.32.4")
    assert lazy.swagger == Encoded.of(swagger)
    assert lazy.swagger_protobuf[0] == v2proto.encode_document(swagger)


def test_v3_documents_kept_from_a_v2_build_are_the_eager_ones(groups) -> None:
    lazy = OpenAPIService(groups, "v1.32.4")
    lazy.swagger_protobuf  # v2 first: its v3 documents are kept for the index
    eager = {key: Encoded.of(doc) for key, doc in v3.build_documents(groups, "v1.32.4").items()}
    assert {key: lazy.encoded[key] for key in lazy.encoded} == eager
    assert lazy.swagger == Encoded.of(v2.build_document(
        v3.build_documents(groups, "v1.32.4").values(), "v1.32.4"))


def test_unknown_documents_are_not_built() -> None:
    service = OpenAPIService([], "v1.32.4")
    assert list(service.encoded) == ["api", "apis"]
    with pytest.raises(KeyError):
        service.encoded["apis/nope.example.com/v1"]


def test_negotiation_names_the_protobuf_encoder_types() -> None:
    assert V2_PROTOBUF_SUBTYPES == v2proto.SUBTYPES
    assert V2_PROTOBUF_MEDIA_TYPE == v2proto.MEDIA_TYPE


@pytest.mark.parametrize(("path", "expected"), [
    ("/api", True), ("/api/v1", True), ("/apis", True), ("/apis/apps", True),
    ("/apis/apps/v1", True), ("/openapi/v2", True), ("/openapi/v3", True),
    ("/openapi/v3/apis/apps/v1", True),
    ("/api/v1/namespaces", False), ("/api/v1/namespaces/default/configmaps/x", False),
    ("/apis/apps/v1/deployments", False), ("/healthz", False), ("/", False),
])
def test_resource_requests_never_look_up_documents(path: str, expected: bool) -> None:
    assert is_document_path(path) is expected


IDLE = """
import json, sys
from pathlib import Path
from kernel.server.genericapiserver import prepare_run
from kernel.registry.resource import ResourceSpec
from kernel.testing import assemble
server = prepare_run(assemble(Path(sys.argv[1]), "--plugins=api_core,api_apps,storage_memory"))
generators = ("meta", "v2", "v2proto", "v3")
print(json.dumps([g for g in generators if f"kernel.endpoints.openapi.{g}" in sys.modules]))
"""


def test_a_prepared_server_has_imported_no_openapi_generator(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", IDLE, str(tmp_path)], capture_output=True,
                         text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == []


def widget_spec() -> ResourceSpec:
    name = "com.example.lazy.v1.Widget"
    schema = {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": ref(OBJECT_META),
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    return ResourceSpec(group=GROUP, version="v1", kind="Widget", plural="widgets",
                        singular="widget", namespaced=True, schema_name=name,
                        schemas={**meta_schemas(), name: schema})


async def test_documents_follow_the_groups_and_come_back_the_same(start_api) -> None:
    api = await start_api("--plugins=api_core,storage_memory")
    client, context = api.client, api.server.context
    before = {path: await client.get(path, headers=headers) for path, headers in (
        ("/apis", {"accept": AGGREGATED}), ("/api/v1", {}), ("/openapi/v3", {}),
        ("/openapi/v2", {}))}
    assert all(r.status_code == 200 for r in before.values())

    await context.install_api_group(APIGroup(GROUP, "v1", [widget_spec()]))
    changed = await client.get("/apis", headers={"accept": AGGREGATED,
                                                 "if-none-match": before["/apis"].headers["etag"]})
    assert changed.status_code == 200 and GROUP in changed.text
    index = await client.get("/openapi/v3")
    assert f"apis/{GROUP}/v1" in index.json()["paths"]

    assert await context.remove_api_group(GROUP, "v1")
    for path, old in before.items():
        again = await client.get(path, headers={"accept": AGGREGATED} if path == "/apis" else {})
        assert again.status_code == 200
        assert (again.content, again.headers["etag"]) == (old.content, old.headers["etag"]), path
        cached = await client.get(path, headers={
            "if-none-match": old.headers["etag"],
            **({"accept": AGGREGATED} if path == "/apis" else {})})
        assert cached.status_code == 304, path
