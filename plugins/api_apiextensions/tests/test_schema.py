"""The compiled structural schema on its own: pruning, defaulting, validation messages and
field paths, and the JSONPath subset of printer columns."""

from __future__ import annotations

from typing import Any

import pytest

from kernel_api_apiextensions import jsonpath
from kernel_api_apiextensions.schema import apply_defaults, compile_schema, prune
from kernel_api_apiextensions.validation import validate_crd
from kernel_api_apiextensions.validator import validate_object

SCHEMA: dict[str, Any] = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
    "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                 "x-kubernetes-preserve-unknown-fields": True},
    "port": {"x-kubernetes-int-or-string": True},
    "ports": {"type": "array", "x-kubernetes-list-type": "map",
              "x-kubernetes-list-map-keys": ["name"],
              "items": {"type": "object", "properties": {"name": {"type": "string"},
                                                         "n": {"type": "integer"}}}},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    "maybe": {"type": "string", "nullable": True},
    "mode": {"type": "string", "default": "fast"},
    "when": {"type": "string", "format": "date-time"},
    "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
    "items": {"type": "array", "maxItems": 2, "minItems": 1, "items": {"type": "string"}},
}}}}


def errors(spec: dict[str, Any]) -> list[str]:
    return [str(e) for e in validate_object({"spec": spec}, compile_schema(SCHEMA))]


def test_validation_messages_and_paths() -> None:
    assert errors({"template": {"spec": 1}, "port": 1.5, "ports": [{"name": "a"}, {"name": "a"}],
                   "labels": {"x": 1}, "maybe": None, "when": "yesterday", "ratio": 0,
                   "items": []}) == [
        "spec.template.apiVersion: Required value: must not be empty",
        "spec.template.kind: Required value: must not be empty",
        'spec.port: Invalid value: "number": spec.port in body must be of type integer,string: "number"',
        'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}',
        'spec.labels.x: Invalid value: "integer": spec.labels.x in body must be of type string: "integer"',
        'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"',
        "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0",
        "spec.items: Invalid value: []string{}: spec.items in body should have at least 1 items",
    ]
    assert errors({"items": ["a", "b", "c"], "mode": None}) == [
        "spec.items: Too many: 3: must have at most 2 items",
        "spec.mode: Invalid value: \"null\": spec.mode in body must be of type string: \"null\"",
    ]
    assert errors({"port": "http", "when": "2024-01-02T03:04:05Z", "ratio": 0.5}) == []


def test_pruning_keeps_object_fields_and_preserved_ones() -> None:
    obj = {"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}, "top": 1,
           "spec": {"labels": {"k": "v"}, "unknown": 1, "template": {
               "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "anything": 2}}}
    prune(obj, compile_schema(SCHEMA))
    assert obj == {"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
                   "spec": {"labels": {"k": "v"}, "template": {
                       "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "anything": 2}}}


def test_defaults_fill_absent_and_null_fields() -> None:
    node = compile_schema(SCHEMA)
    for spec in ({}, {"mode": None}):
        obj: dict[str, Any] = {"spec": spec}
        apply_defaults(obj, node)
        assert obj["spec"]["mode"] == "fast"
    obj = {"spec": {"mode": "slow"}}
    apply_defaults(obj, node)
    assert obj["spec"]["mode"] == "slow"


@pytest.mark.parametrize(("path", "expected"), [
    (".spec.a", [1]), ("{.spec.list[1]}", ["y"]), (".spec.list[*]", ["x", "y"]),
    ('.status.conditions[?(@.type=="Ready")].status', ["True"]), (".spec.missing", []),
])
def test_jsonpath(path: str, expected: list[Any]) -> None:
    obj = {"spec": {"a": 1, "list": ["x", "y"]},
           "status": {"conditions": [{"type": "Other", "status": "False"},
                                     {"type": "Ready", "status": "True"}]}}
    assert jsonpath.find(obj, jsonpath.parse(path)) == expected


def test_structural_schema_errors() -> None:
    crd = {"metadata": {"name": "as.x.io"}, "spec": {
        "group": "x.io", "scope": "Cluster", "names": {"plural": "as", "singular": "a", "kind": "A",
                                                      "listKind": "A"},
        "versions": [{"name": "V1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
            "type": "string", "additionalProperties": {"type": "string"},
            "properties": {"metadata": {"type": "object", "properties": {"labels": {}}}}}}}]}}
    found = {str(e) for e in validate_crd(crd)}
    base = "spec.validation.openAPIV3Schema"
    assert f'{base}.type: Invalid value: "string": must be object at the root' in found
    assert f"{base}.additionalProperties: Forbidden: must not be used at the root" in found
    assert f"{base}.properties[metadata]: Forbidden: must not specify anything other than name " \
        "and generateName, but metadata is implicitly specified" in found
    assert 'spec.names.listKind: Invalid value: "A": kind and listKind may not be the same' in found
    assert any(e.startswith('spec.versions[0].name: Invalid value: "V1": a DNS-1035 label') for e in found)


def test_status_subresource_limits_the_root_schema() -> None:
    crd = {"metadata": {"name": "bs.x.io"}, "spec": {
        "group": "x.io", "scope": "Cluster", "names": {"plural": "bs", "singular": "b", "kind": "B",
                                                      "listKind": "BList"},
        "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                      "schema": {"openAPIV3Schema": {"type": "object", "anyOf": [{"required": ["a"]}],
                                                     "properties": {"a": {"type": "string"}}}}}]}}
    found = [str(e) for e in validate_crd(crd)]
    assert len(found) == 1 and found[0].startswith(
        "spec.validation.openAPIV3Schema: Invalid value: apiextensions.JSONSchemaProps{...}: "
        "only [Description Type Format Title")
    assert found[0].endswith("fields are allowed at the root of the schema if the status "
                             "subresource is enabled")
    del crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["anyOf"]
    assert validate_crd(crd) == []
