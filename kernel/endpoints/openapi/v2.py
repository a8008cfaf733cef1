"""The OpenAPI v2 (Swagger 2.0) document, derived from the v3 documents.

kube publishes v2 with the same operations and the same component schemas, under
``#/definitions/``. Schemas are rewritten the way kube publishes CRDs to v2: refs moved,
``allOf: [$ref]`` wrappers collapsed to a plain ``$ref`` (kubectl's v2 model ignores allOf),
``nullable`` as ``x-nullable``, and v3-only keywords (oneOf, anyOf, not) dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kernel.endpoints.openapi.meta import REF_PREFIX, Schema
from kernel.endpoints.openapi.v3 import SECURITY_SCHEMES

Document = dict[str, Any]

DEFINITIONS_PREFIX = "#/definitions/"
V3_ONLY = frozenset({"oneOf", "anyOf", "not"})
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def to_v2_schema(node: Any) -> Any:
    """A v3 schema (or any part of one) in Swagger 2.0 form."""
    if isinstance(node, list):
        return [to_v2_schema(value) for value in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and set(all_of[0]) == {"$ref"}:
        del node["allOf"]
        node = {"$ref": all_of[0]["$ref"], **node}
    out: Schema = {}
    for key, value in node.items():
        if key in V3_ONLY:
            continue
        if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
            out[key] = DEFINITIONS_PREFIX + value[len(REF_PREFIX):]
        elif key == "nullable":
            out["x-nullable"] = value
        elif key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: to_v2_schema(sub) for name, sub in value.items()}
        else:
            out[key] = to_v2_schema(value)
    return out


def _parameter(param: Schema) -> Schema:
    converted = {k: v for k, v in param.items() if k != "schema"}
    converted.update(param.get("schema", {}))
    return converted


def _operation(op: Schema) -> Schema:
    body = op.get("requestBody")
    consumes = list(body["content"]) if body else ["*/*"]
    produces: list[str] = []
    responses: Schema = {}
    for code, response in op.get("responses", {}).items():
        converted: Schema = {"description": response.get("description", "")}
        content = response.get("content") or {}
        for media_type, entry in content.items():
            if media_type not in produces:
                produces.append(media_type)
            if "schema" in entry and "schema" not in converted:
                converted["schema"] = to_v2_schema(entry["schema"])
        responses[code] = converted
    parameters = [_parameter(p) for p in op.get("parameters", ())]
    if body:
        schema = next(iter(body["content"].values()))["schema"]
        parameters.insert(0, {"in": "body", "name": "body", "required": bool(body.get("required")),
                              "schema": to_v2_schema(schema)})
    converted_op: Schema = {"consumes": consumes, "description": op.get("description", ""),
                            "operationId": op["operationId"]}
    if parameters:
        converted_op["parameters"] = parameters
    converted_op.update({"produces": produces, "responses": responses, "schemes": ["https"],
                         "tags": op.get("tags", [])})
    converted_op.update({k: v for k, v in op.items() if k.startswith("x-")})
    return converted_op


def _path_item(item: Schema) -> Schema:
    converted: Schema = {}
    for key, value in item.items():
        if key == "parameters":
            converted[key] = [_parameter(p) for p in value]
        elif key in METHODS:
            converted[key] = _operation(value)
    return converted


def build_document(v3_documents: Iterable[Document], version: str = "unversioned") -> Document:
    """One Swagger 2.0 document with every path and schema of the v3 documents."""
    paths: dict[str, Schema] = {}
    definitions: dict[str, Schema] = {}
    for doc in v3_documents:
        for path, item in doc.get("paths", {}).items():
            paths[path] = _path_item(item)
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            definitions[name] = to_v2_schema(schema)
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": version},
            "paths": dict(sorted(paths.items())),
            "definitions": dict(sorted(definitions.items())),
            "securityDefinitions": SECURITY_SCHEMES,
            "security": [{"BearerToken": []}]}
