"""Types from structural schemas: fields are checked at compile time and values take the CEL
types kube gives them (apiextensions-apiserver schema/cel compilation_test.go behaviours)."""

from __future__ import annotations

import pytest

from kernel_cel import CompileError, Environment, schema_type

SCHEMA = {"type": "object", "properties": {
    "foo-bar": {"type": "string"}, "namespace": {"type": "string"}, "a__b": {"type": "string"},
    "ratio": {"type": "number"}, "when": {"type": "string", "format": "date-time"},
    "day": {"type": "string", "format": "date"}, "wait": {"type": "string", "format": "duration"},
    "blob": {"type": "string", "format": "byte"}, "port": {"x-kubernetes-int-or-string": True},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    "embedded": {"type": "object", "x-kubernetes-embedded-resource": True,
                 "x-kubernetes-preserve-unknown-fields": True},
    "items": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "a.b": {"type": "integer"}, "1st": {"type": "string"}}}}}}
OBJ = {"foo-bar": "x", "namespace": "ns", "a__b": "u", "ratio": 1, "when": "2024-01-02T03:04:05Z",
       "day": "2024-01-02", "wait": "1h30m", "blob": "aGVsbG8=", "port": 80, "labels": {"a": "b"},
       "matrix": [[1, 2], [3]], "extra": {"anything": 1},
       "embedded": {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}, "spec": {}},
       "items": [{"name": "n", "a.b": 2}]}
DECL = schema_type(SCHEMA)
ENV = Environment(variables={"self": DECL, "oldSelf": DECL}, library="crd")


def run(expression: str):
    return ENV.compile(expression).eval({"self": OBJ, "oldSelf": OBJ})


@pytest.mark.parametrize("expression, expected", [
    # kube's escaping: '-' '__dash__', '.' '__dot__', '__' '__underscores__', reserved words '__{word}__'
    ("self.foo__dash__bar", "x"), ("self.__namespace__", "ns"), ("self.a__underscores__b", "u"),
    ("self.items.all(i, i.name == 'n' && i.a__dot__b == 2)", True),
    # numbers are doubles, even when stored as integers
    ("self.ratio + 0.5", 1.5), ("self.ratio == 1.0", True),
    # formats: date-time and date are timestamps, duration durations, byte bytes
    ("self.when < timestamp('2025-01-01T00:00:00Z')", True), ("self.when.getFullYear()", 2024),
    ("self.day.getDayOfMonth()", 1), ("self.wait > duration('1h')", True), ("self.blob == b'hello'", True),
    # int-or-string and unknown fields are dyn; maps and lists of lists are typed
    ("self.port == 80", True), ("self.labels.a", "b"), ("self.labels['a']", "b"), ("self.matrix[0][1]", 2),
    ("self.extra.anything", 1), ("self.embedded.kind", "Pod"), ("self.embedded.metadata.name", "p"),
    ("has(self.ratio)", True), ("self == oldSelf", True),
])
def test_typed_values(expression, expected):
    assert run(expression) == expected


@pytest.mark.parametrize("expression, detail", [
    ("self.namespace", "undefined field 'namespace'"),  # reserved: only as __namespace__
    ("self.items.all(i, i.nope == 1)", "undefined field 'nope'"),
    ("self.embedded.spec", "undefined field 'spec'"),  # embedded: kind, apiVersion, metadata only
    ("self.ratio.size()", "found no matching overload for 'size' applied to '(double)'"),
    ("self.labels.a + 1", "found no matching overload for '_+_' applied to '(string, int)'"),
])
def test_checked_against_the_schema(expression, detail):
    with pytest.raises(CompileError) as error:
        ENV.compile(expression)
    assert str(error.value).startswith("compilation failed: ERROR: <input>:")
    assert detail in str(error.value)


def test_result_types_in_cel_go_words():
    assert ENV.compile("self.items").result_type == "list(object)"
    assert ENV.compile("self.labels").result_type == "map(string, string)"
    assert ENV.compile("self.when").result_type == "google.protobuf.Timestamp"
    with pytest.raises(CompileError, match="^must evaluate to bool but got string$"):
        ENV.compile("self.foo__dash__bar", result="bool")


def test_resource_root_has_kind_api_version_and_metadata():
    decl = schema_type({"type": "object", "properties": {"spec": {"type": "object"}}}, resource_root=True)
    env = Environment(variables={"self": decl}, library="crd")
    assert env.compile("self.metadata.name + self.kind").eval(
        {"self": {"kind": "W", "metadata": {"name": "w"}}}) == "wW"
    with pytest.raises(CompileError, match="undefined field 'labels'"):
        env.compile("self.metadata.labels")


def test_refs_are_resolved_and_may_recurse():
    components = {
        "#/components/schemas/Node": {"type": "object", "properties": {
            "value": {"type": "integer"},
            "children": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Node"}]}}}},
    }
    decl = schema_type({"$ref": "#/components/schemas/Node"}, resolve=components.get)
    env = Environment(variables={"object": decl}, library="admission")
    program = env.compile("object.children.all(c, c.children.all(g, g.value > object.value))", result="bool")
    tree = {"value": 1, "children": [{"value": 2, "children": [{"value": 3, "children": []}]}]}
    assert program.eval({"object": tree}) is True
    with pytest.raises(CompileError, match="undefined field 'nope'"):
        env.compile("object.children[0].children[0].nope")


def test_declarations_are_cached():
    assert schema_type(SCHEMA) is DECL
    assert Environment(variables={"self": schema_type(SCHEMA), "oldSelf": DECL}, library="crd") is ENV
