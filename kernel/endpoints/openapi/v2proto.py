"""The OpenAPI v2 document in protobuf: gnostic's ``openapi.v2.Document``, the form kubectl asks
for (``application/com.github.proto-openapi.spec.v2@v1.0+protobuf``) to validate on the client
what no OpenAPI v3 path covers, a ``kind: List`` among them.

Written by hand because no Python library encodes gnostic's messages: the field numbers are the
public ``openapiv2/OpenAPIv2.proto`` of github.com/google/gnostic-models (Apache-2.0), as kube
vendors it. Each message is a table from its JSON keys to (field number, kind); keys starting
with ``x-`` become the message's ``vendor_extension`` (a name and the value as YAML), values of
type Any (``default``, ``example``, ``enum``) are YAML as gnostic writes them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from kernel.apimachinery.protobuf.wire import encode_bytes, encode_varint

#: The subtypes a client asks for it with (kubectl still sends the first, which Go's own media-type
#: parser refuses in a response), and the media type kube answers with.
SUBTYPES = ("com.github.proto-openapi.spec.v2@v1.0+protobuf", "com.github.proto-openapi.spec.v2.v1.0+protobuf")
MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

Encode = Callable[[Any], bytes]


def _scalar(number: int, kind: str, value: Any) -> bytes:
    if kind == "string":
        return encode_bytes(number, str(value).encode()) if value != "" else b""
    if kind == "bool":
        return encode_varint(number << 3) + b"\x01" if value else b""
    if kind == "int64":
        return encode_varint(number << 3) + encode_varint(int(value)) if value else b""
    if kind == "double":
        return encode_varint(number << 3 | 1) + struct.pack("<d", float(value)) if value else b""
    raise ValueError(kind)


def _any(value: Any) -> bytes:
    """gnostic's Any: the value as YAML (field 2)."""
    import yaml  # only the protobuf v2 document, built on a client's first ask, needs it

    text = yaml.safe_dump(value, default_flow_style=False, allow_unicode=True, width=1 << 30)
    return encode_bytes(2, text.removesuffix("...\n").encode())  # no end marker after a scalar


def _named(number: int, name: str, value: bytes) -> bytes:
    """A Named* pair (name = 1, value = 2) as field ``number`` of its parent."""
    return encode_bytes(number, encode_bytes(1, name.encode()) + encode_bytes(2, value))


# message name -> ({json key: (field number, kind, message for kinds that nest)}, vendor field)
Spec = tuple[dict[str, tuple[int, str, str]], int]
MESSAGES: dict[str, Spec] = {
    "Document": ({"swagger": (1, "string", ""), "info": (2, "message", "Info"),
                  "host": (3, "string", ""), "basePath": (4, "string", ""),
                  "schemes": (5, "strings", ""), "consumes": (6, "strings", ""),
                  "produces": (7, "strings", ""), "paths": (8, "paths", ""),
                  "definitions": (9, "map", "Schema"), "parameters": (10, "map", "Parameter"),
                  "responses": (11, "map", "Response"), "security": (12, "security", ""),
                  "securityDefinitions": (13, "map", "SecurityDefinitionsItem"),
                  "tags": (14, "messages", "Tag"), "externalDocs": (15, "message", "ExternalDocs")}, 16),
    "Info": ({"title": (1, "string", ""), "version": (2, "string", ""),
              "description": (3, "string", ""), "termsOfService": (4, "string", ""),
              "contact": (5, "message", "Contact"), "license": (6, "message", "License")}, 7),
    "Contact": ({"name": (1, "string", ""), "url": (2, "string", ""), "email": (3, "string", "")}, 4),
    "License": ({"name": (1, "string", ""), "url": (2, "string", "")}, 3),
    "ExternalDocs": ({"description": (1, "string", ""), "url": (2, "string", "")}, 3),
    "Tag": ({"name": (1, "string", ""), "description": (2, "string", ""),
             "externalDocs": (3, "message", "ExternalDocs")}, 4),
    "PathItem": ({"$ref": (1, "string", ""), "get": (2, "message", "Operation"),
                  "put": (3, "message", "Operation"), "post": (4, "message", "Operation"),
                  "delete": (5, "message", "Operation"), "options": (6, "message", "Operation"),
                  "head": (7, "message", "Operation"), "patch": (8, "message", "Operation"),
                  "parameters": (9, "messages", "ParametersItem")}, 10),
    "Operation": ({"tags": (1, "strings", ""), "summary": (2, "string", ""),
                   "description": (3, "string", ""), "externalDocs": (4, "message", "ExternalDocs"),
                   "operationId": (5, "string", ""), "produces": (6, "strings", ""),
                   "consumes": (7, "strings", ""), "parameters": (8, "messages", "ParametersItem"),
                   "responses": (9, "responses", ""), "schemes": (10, "strings", ""),
                   "deprecated": (11, "bool", ""), "security": (12, "security", "")}, 13),
    "BodyParameter": ({"description": (1, "string", ""), "name": (2, "string", ""),
                       "in": (3, "string", ""), "required": (4, "bool", ""),
                       "schema": (5, "message", "Schema")}, 6),
    "Response": ({"description": (1, "string", ""), "schema": (2, "schemaitem", ""),
                  "headers": (3, "map", "Header"), "examples": (4, "anymap", "")}, 5),
    "Schema": ({"$ref": (1, "string", ""), "format": (2, "string", ""), "title": (3, "string", ""),
                "description": (4, "string", ""), "default": (5, "any", ""),
                "multipleOf": (6, "double", ""), "maximum": (7, "double", ""),
                "exclusiveMaximum": (8, "bool", ""), "minimum": (9, "double", ""),
                "exclusiveMinimum": (10, "bool", ""), "maxLength": (11, "int64", ""),
                "minLength": (12, "int64", ""), "pattern": (13, "string", ""),
                "maxItems": (14, "int64", ""), "minItems": (15, "int64", ""),
                "uniqueItems": (16, "bool", ""), "maxProperties": (17, "int64", ""),
                "minProperties": (18, "int64", ""), "required": (19, "strings", ""),
                "enum": (20, "anys", ""), "additionalProperties": (21, "additional", ""),
                "type": (22, "type", ""), "items": (23, "items", ""),
                "allOf": (24, "messages", "Schema"), "properties": (25, "map", "Schema"),
                "discriminator": (26, "string", ""), "readOnly": (27, "bool", ""),
                "externalDocs": (29, "message", "ExternalDocs"), "example": (30, "any", "")}, 31),
    "ApiKeySecurity": ({"type": (1, "string", ""), "name": (2, "string", ""),
                        "in": (3, "string", ""), "description": (4, "string", "")}, 5),
    "BasicAuthenticationSecurity": ({"type": (1, "string", ""), "description": (2, "string", "")}, 3),
}

# A non-body parameter's sub-schema (header, formData, query, path): the same fields, numbered
# from `required` on, with allowEmptyValue only for formData and query.
_PRIMITIVE = ("type", "format", "items", "collectionFormat", "default", "maximum", "exclusiveMaximum",
              "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems",
              "minItems", "uniqueItems", "enum", "multipleOf")
_KINDS = {"type": "string", "format": "string", "items": "message", "collectionFormat": "string",
          "default": "any", "maximum": "double", "exclusiveMaximum": "bool", "minimum": "double",
          "exclusiveMinimum": "bool", "maxLength": "int64", "minLength": "int64", "pattern": "string",
          "maxItems": "int64", "minItems": "int64", "uniqueItems": "bool", "enum": "anys",
          "multipleOf": "double", "description": "string"}


def _sub_schema(allow_empty: bool) -> Spec:
    keys = ["required", "in", "description", "name", *(["allowEmptyValue"] if allow_empty else []),
            *_PRIMITIVE]
    table = {key: (i + 1, {"required": "bool", "in": "string", "name": "string",
                           "allowEmptyValue": "bool"}.get(key) or _KINDS[key],
                   "PrimitivesItems" if key == "items" else "") for i, key in enumerate(keys)}
    return table, len(keys) + 1


MESSAGES["HeaderParameterSubSchema"] = _sub_schema(False)
MESSAGES["PathParameterSubSchema"] = _sub_schema(False)
MESSAGES["QueryParameterSubSchema"] = _sub_schema(True)
MESSAGES["FormDataParameterSubSchema"] = _sub_schema(True)
MESSAGES["PrimitivesItems"] = ({key: (i + 1, _KINDS[key], "PrimitivesItems" if key == "items" else "")
                                for i, key in enumerate(_PRIMITIVE)}, len(_PRIMITIVE) + 1)
MESSAGES["Header"] = ({**{key: (i + 1, _KINDS[key], "PrimitivesItems" if key == "items" else "")
                          for i, key in enumerate(_PRIMITIVE)},
                       "description": (len(_PRIMITIVE) + 1, "string", "")}, len(_PRIMITIVE) + 2)

_NON_BODY = {"header": (1, "HeaderParameterSubSchema"), "formData": (2, "FormDataParameterSubSchema"),
             "query": (3, "QueryParameterSubSchema"), "path": (4, "PathParameterSubSchema")}
_SECURITY = {"basic": (1, "BasicAuthenticationSecurity"), "apiKey": (2, "ApiKeySecurity")}


def message(name: str, value: Mapping[str, Any]) -> bytes:
    """Encode ``value`` (a JSON object of the v2 document) as gnostic's message ``name``."""
    special = _ONEOFS.get(name)
    if special is not None:
        return special(value)
    table, vendor = MESSAGES[name]
    out = bytearray()
    for key, item in value.items():
        if key in table:
            number, kind, sub = table[key]
            out += _field(number, kind, sub, item)
        elif key.startswith("x-"):
            out += _named(vendor, key, _any(item))
    return bytes(out)


def _field(number: int, kind: str, sub: str, value: Any) -> bytes:
    if kind in ("string", "bool", "int64", "double"):
        return _scalar(number, kind, value)
    if kind == "strings":
        return b"".join(encode_bytes(number, str(v).encode()) for v in value)
    if kind == "message":
        return encode_bytes(number, message(sub, value))
    if kind == "messages":
        return b"".join(encode_bytes(number, message(sub, v)) for v in value)
    if kind == "any":
        return encode_bytes(number, _any(value))
    if kind == "anys":
        return b"".join(encode_bytes(number, _any(v)) for v in value)
    if kind == "security":  # repeated SecurityRequirement
        return b"".join(encode_bytes(number, _security(v)) for v in value)
    return encode_bytes(number, _COMPOSITES[kind](sub, value))


def _map(sub: str, value: Mapping[str, Any]) -> bytes:
    """Definitions, Properties, ...: ``additional_properties`` (1) of Named<sub> pairs."""
    return b"".join(_named(1, k, message(sub, v)) for k, v in value.items())


def _paths(_: str, value: Mapping[str, Any]) -> bytes:
    out = bytearray()
    for key, item in value.items():
        out += _named(1, key, _any(item)) if key.startswith("x-") else _named(2, key, message("PathItem", item))
    return bytes(out)


def _responses(_: str, value: Mapping[str, Any]) -> bytes:
    out = bytearray()
    for code, item in value.items():
        if code.startswith("x-"):
            out += _named(2, code, _any(item))
            continue
        inner = (encode_bytes(2, message("JsonReference", item)) if "$ref" in item
                 else encode_bytes(1, message("Response", item)))
        out += _named(1, code, inner)
    return bytes(out)


def _security(value: Mapping[str, list[str]]) -> bytes:
    """One SecurityRequirement: NamedStringArray pairs (the StringArray's values are field 1)."""
    return b"".join(_named(1, k, b"".join(encode_bytes(1, s.encode()) for s in v))
                    for k, v in value.items())


_COMPOSITES: dict[str, Callable[[str, Any], bytes]] = {
    "map": _map, "paths": _paths, "responses": _responses,
    "anymap": lambda _, v: b"".join(_named(1, k, _any(x)) for k, x in v.items()),
    "schemaitem": lambda _, v: encode_bytes(1, message("Schema", v)),
    "type": lambda _, v: b"".join(encode_bytes(1, t.encode()) for t in ([v] if isinstance(v, str) else v)),
    "items": lambda _, v: b"".join(encode_bytes(1, message("Schema", s))
                                   for s in (v if isinstance(v, list) else [v])),
    # a oneof member is written even when false
    "additional": lambda _, v: (encode_varint(2 << 3) + (b"\x01" if v else b"\x00") if isinstance(v, bool)
                                else encode_bytes(1, message("Schema", v))),
}


def _parameter(value: Mapping[str, Any]) -> bytes:
    where = value.get("in")
    if where == "body":
        return encode_bytes(1, message("BodyParameter", value))
    number, sub = _NON_BODY[where]
    return encode_bytes(2, encode_bytes(number, message(sub, value)))


def _security_definition(value: Mapping[str, Any]) -> bytes:
    number, sub = _SECURITY[value.get("type", "")]
    return encode_bytes(number, message(sub, value))


_ONEOFS: dict[str, Callable[[Mapping[str, Any]], bytes]] = {
    "Parameter": _parameter,
    "ParametersItem": lambda v: (encode_bytes(2, message("JsonReference", v)) if "$ref" in v
                                 else encode_bytes(1, _parameter(v))),
    "JsonReference": lambda v: _scalar(1, "string", v["$ref"]) + _scalar(2, "string", v.get("description", "")),
    "SecurityDefinitionsItem": _security_definition,
}


def encode_document(document: Mapping[str, Any]) -> bytes:
    """The whole v2 document as an ``openapi.v2.Document``."""
    return message("Document", document)
