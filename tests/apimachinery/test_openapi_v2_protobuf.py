"""/openapi/v2 as gnostic's protobuf (what kubectl's client-side validation reads): the vendored
OpenAPIv2.proto compiled by protoc in the test parses the kernel's bytes, and they say what the
JSON document says."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("grpc_tools")
import grpc_tools  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402
from grpc_tools import protoc  # noqa: E402

from kernel.endpoints.openapi import OpenAPIService, v2, v2_form, v2proto  # noqa: E402
from kernel.testing import assemble  # noqa: E402

PROTO = (Path(__file__).resolve().parents[2] / "api" / "upstream" / "proto" / "github.com" / "google"
         / "gnostic-models" / "openapiv2" / "OpenAPIv2.proto.gz")
WELL_KNOWN = Path(grpc_tools.__file__).parent / "_proto"


@pytest.fixture(scope="module")
def document_class() -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "openapiv2").mkdir()
        (Path(tmp) / "openapiv2" / "OpenAPIv2.proto").write_bytes(gzip.decompress(PROTO.read_bytes()))
        out = Path(tmp) / "set.pb"
        assert protoc.main(["protoc", f"-I{tmp}", f"-I{WELL_KNOWN}", "--include_imports",
                            f"--descriptor_set_out={out}", "openapiv2/OpenAPIv2.proto"]) == 0
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("openapi.v2.Document"))


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory, document_class: Any) -> tuple[dict, Any]:
    server = assemble(tmp_path_factory.mktemp("v2"), "--plugins=api_core,api_apps,storage_memory")
    service = OpenAPIService(server.api_groups.values(), "v1.32.4")
    json_doc = v2.build_document(service.documents.values(), "v1.32.4")
    body, _ = service.swagger_protobuf
    return json_doc, document_class.FromString(body)


def _schema(pb: Any) -> dict[str, Any]:
    """The JSON a gnostic Schema says (the fields the kernel writes)."""
    out: dict[str, Any] = {}
    for field, key in (("_ref", "$ref"), ("description", "description"), ("format", "format")):
        if getattr(pb, field):
            out[key] = getattr(pb, field)
    if pb.type.value:
        out["type"] = pb.type.value[0] if len(pb.type.value) == 1 else list(pb.type.value)
    if pb.required:
        out["required"] = list(pb.required)
    if pb.HasField("default"):
        out["default"] = yaml.safe_load(pb.default.yaml)
    if pb.enum:
        out["enum"] = [yaml.safe_load(e.yaml) for e in pb.enum]
    if pb.properties.additional_properties:
        out["properties"] = {p.name: _schema(p.value) for p in pb.properties.additional_properties}
    if pb.items.schema:
        out["items"] = _schema(pb.items.schema[0])
    if pb.HasField("additional_properties"):
        item = pb.additional_properties
        out["additionalProperties"] = (item.boolean if item.WhichOneof("oneof") == "boolean"
                                       else _schema(item.schema))
    if pb.all_of:
        out["allOf"] = [_schema(s) for s in pb.all_of]
    for extension in pb.vendor_extension:
        out[extension.name] = yaml.safe_load(extension.value.yaml)
    return out


def test_every_definition_says_what_the_json_says(documents: tuple[dict, Any]) -> None:
    json_doc, pb = documents
    assert (pb.swagger, pb.info.title, pb.info.version) == ("2.0", "Kubernetes", "v1.32.4")
    definitions = {d.name: _schema(d.value) for d in pb.definitions.additional_properties}
    assert list(definitions) == list(json_doc["definitions"])
    for name, schema in json_doc["definitions"].items():
        assert definitions[name] == schema, name
    assert definitions["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}]


def test_every_path_operation_and_parameter(documents: tuple[dict, Any]) -> None:
    json_doc, pb = documents
    paths = {p.name: p.value for p in pb.paths.path}
    assert list(paths) == list(json_doc["paths"])
    for path, item in json_doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            op = getattr(paths[path], method)
            assert op.operation_id == operation["operationId"]
            assert list(op.produces) == operation.get("produces", [])
            ins = []
            for parameter in op.parameters:
                which = parameter.parameter.WhichOneof("oneof")
                if which == "body_parameter":
                    ins.append(("body", parameter.parameter.body_parameter.name))
                else:
                    sub = parameter.parameter.non_body_parameter
                    inner = getattr(sub, sub.WhichOneof("oneof"))
                    ins.append((getattr(inner, "in"), inner.name))
            assert ins == [(p["in"], p["name"]) for p in operation.get("parameters", [])]
            codes = {r.name: r.value.response for r in op.responses.response_code}
            assert set(codes) == set(operation["responses"])
            for code, response in operation["responses"].items():
                if "schema" in response:
                    assert _schema(codes[code].schema.schema) == response["schema"]
            assert {e.name: yaml.safe_load(e.value.yaml) for e in op.vendor_extension} == {
                k: v for k, v in operation.items() if k.startswith("x-")}


def test_security_and_negotiation(documents: tuple[dict, Any]) -> None:
    _, pb = documents
    (item,) = pb.security_definitions.additional_properties
    assert item.name == "BearerToken"
    api_key = item.value.api_key_security
    assert (api_key.name, getattr(api_key, "in"), api_key.type) == ("authorization", "header", "apiKey")
    assert [(r.additional_properties[0].name, list(r.additional_properties[0].value.value))
            for r in pb.security] == [("BearerToken", [])]
    # kube-openapi's choice: the first of the client's media ranges that a form matches
    kubectl = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    assert v2_form(kubectl) == "protobuf"
    assert v2_form("application/com.github.proto-openapi.spec.v2.v1.0+protobuf") == "protobuf"
    assert v2_form(f"application/json, {kubectl}") == "json"
    assert v2_form(f"{kubectl}, application/json") == "protobuf"
    assert v2_form("") == v2_form("*/*") == "json"
    assert v2_form("application/yaml") is None
    assert v2proto.MEDIA_TYPE == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
