"""Field validation against OpenAPI schemas: kube's unknown-field paths and Go decode errors."""

from __future__ import annotations

import base64

import pytest

from kernel.apimachinery.fieldvalidation import (
    check,
    decode_error_message,
    go_base64_error,
    go_rfc3339_error,
    patch_meta,
    strict_error,
    unknown_field_warnings,
)
from kernel.apimachinery.schemas import OBJECT_META, meta_schemas, ref, ref_field, type_meta_properties

WIDGET = "io.example.widgets.v1.Widget"
SPEC = "io.example.widgets.v1.WidgetSpec"
SCHEMAS = {
    WIDGET: {
        "properties": {
            **type_meta_properties(),
            "metadata": ref_field(OBJECT_META, "metadata", default={}),
            "spec": ref_field(SPEC, "spec", default={}),
            "data": {"additionalProperties": {"type": "string"}, "type": "object"},
            "binary": {"additionalProperties": {"format": "byte", "type": "string"}, "type": "object"},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "raw": {"type": "object"},
        },
        "type": "object",
    },
    SPEC: {
        "properties": {
            "replicas": {"format": "int32", "type": "integer"},
            "count": {"format": "int64", "type": "integer"},
            "ratio": {"format": "double", "type": "number"},
            "paused": {"type": "boolean"},
            "port": {"x-kubernetes-int-or-string": True},
            "tags": {"items": {"type": "string"}, "type": "array"},
            "items": {"items": {"properties": {"name": {"type": "string"}}, "type": "object"}, "type": "array"},
            "since": ref_field("io.k8s.apimachinery.pkg.apis.meta.v1.Time", "since"),
            "nullable": {"nullable": True, "type": "string"},
        },
        "type": "object",
    },
    **meta_schemas(),
}


def _check(obj: dict):
    return check(obj, WIDGET, SCHEMAS)


def test_a_valid_object_reports_nothing() -> None:
    report = _check({
        "apiVersion": "example.io/v1", "kind": "Widget",
        "metadata": {"name": "w", "labels": {"a": "b"}, "finalizers": ["x/y"],
                     "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "n", "uid": "u"}],
                     "creationTimestamp": "2024-05-01T10:00:00Z"},
        "spec": {"replicas": 3, "count": 2**40, "ratio": 0.5, "paused": False, "port": "http",
                 "tags": ["a"], "items": [{"name": "x"}], "since": "2024-05-01T10:00:00.5+02:00",
                 "nullable": None},
        "data": {"k": "v"}, "binary": {"k": base64.b64encode(b"\x00\xff").decode()},
        "extra": {"anything": {"goes": [1]}}, "raw": {"opaque": 1},
    })
    assert report.ok and report.unknown == [] and report.type_errors == []


def test_unknown_fields_have_kube_paths_in_document_order() -> None:
    report = _check({
        "kind": "Widget", "spex": {}, "metadata": {"name": "w", "nmae": "x", "ownerReferences": [
            {"uid": "1"}, {"uid": "2", "controler": True}]},
        "spec": {"items": [{"name": "a"}, {"name": "b", "nam": "c"}], "replica": 1},
    })
    assert report.unknown == ["spex", "metadata.nmae", "metadata.ownerReferences[1].controler",
                              "spec.items[1].nam", "spec.replica"]
    assert report.type_errors == []


def test_field_names_are_case_sensitive() -> None:
    assert _check({"Kind": "Widget", "spec": {"Replicas": 1}}).unknown == ["Kind", "spec.Replicas"]


def test_preserve_unknown_fields_and_schemaless_objects_keep_everything() -> None:
    assert _check({"extra": {"a": {"b": 1}}, "raw": {"c": [1, 2]}}).ok


def test_strict_and_warning_texts() -> None:
    unknown = _check({"spec": {"foo": 1, "bar": 2}}).unknown
    assert strict_error(unknown) == 'strict decoding error: unknown field "spec.foo", unknown field "spec.bar"'
    assert unknown_field_warnings(unknown) == ['unknown field "spec.foo"', 'unknown field "spec.bar"']


@pytest.mark.parametrize(("obj", "error"), [
    ({"data": {"a": 1}}, "json: cannot unmarshal number into Go struct field Widget.data of type string"),
    ({"data": "x"}, "json: cannot unmarshal string into Go struct field Widget.data of type map[string]string"),
    ({"metadata": {"labels": {"a": True}}},
     "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string"),
    ({"metadata": {"finalizers": "x"}},
     "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.finalizers of type []string"),
    ({"metadata": []}, "json: cannot unmarshal array into Go struct field Widget.metadata of type v1.ObjectMeta"),
    ({"metadata": {"ownerReferences": [{"controller": "yes"}]}},
     "json: cannot unmarshal string into Go struct field OwnerReference.metadata.ownerReferences.controller "
     "of type bool"),
    ({"spec": {"replicas": "3"}}, "json: cannot unmarshal string into Go struct field WidgetSpec.spec.replicas "
                                  "of type int32"),
    ({"spec": {"replicas": 1.5}}, "json: cannot unmarshal number 1.5 into Go struct field "
                                  "WidgetSpec.spec.replicas of type int32"),
    ({"spec": {"replicas": 2**31}}, "json: cannot unmarshal number 2147483648 into Go struct field "
                                    "WidgetSpec.spec.replicas of type int32"),
    ({"spec": {"count": True}}, "json: cannot unmarshal bool into Go struct field WidgetSpec.spec.count "
                                "of type int64"),
    ({"spec": {"ratio": "x"}}, "json: cannot unmarshal string into Go struct field WidgetSpec.spec.ratio "
                               "of type float64"),
    ({"spec": {"tags": [1]}}, "json: cannot unmarshal number into Go struct field WidgetSpec.spec.tags "
                              "of type string"),
    ({"spec": {"items": [{"name": {}}]}}, "json: cannot unmarshal object into Go struct field "
                                          "WidgetSpec.spec.items.name of type string"),
    ({"binary": {"a": 1}}, "json: cannot unmarshal number into Go struct field Widget.binary of type []uint8"),
    ({"binary": {"a": "not base64!"}}, "illegal base64 data at input byte 3"),
    ({"spec": {"port": True}}, "json: cannot unmarshal bool into Go value of type int32"),
    ({"spec": {"port": 1.5}}, "json: cannot unmarshal number 1.5 into Go value of type int32"),
    ({"spec": {"since": 5}}, "json: cannot unmarshal number into Go value of type string"),
    ({"spec": {"since": "yesterday"}}, 'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": '
                                       'cannot parse "yesterday" as "2006"'),
])
def test_type_errors_are_gos_decode_errors(obj: dict, error: str) -> None:
    assert _check(obj).type_errors == [error]


def test_top_level_type_error_has_no_struct_context() -> None:
    assert _check([]).type_errors == ["json: cannot unmarshal array into Go value of type v1.Widget"]


def test_null_is_accepted_anywhere() -> None:
    assert _check({"metadata": None, "spec": {"replicas": None, "tags": [None]}, "data": {"a": None}}).ok


def test_every_type_error_is_reported_in_order_and_mistyped_subtrees_are_skipped() -> None:
    report = _check({"spec": {"replicas": "x", "paused": 1}, "data": {"a": 1}, "metadata": 5})
    assert [e.split(" of type")[0].rsplit(" ", 1)[1] for e in report.type_errors] == [
        "WidgetSpec.spec.replicas", "WidgetSpec.spec.paused", "Widget.data", "Widget.metadata"]


def test_decode_error_message_is_kubes_bad_request_text() -> None:
    error = _check({"data": {"a": 1}}).type_errors[0]
    assert decode_error_message("ConfigMap", "v1", error) == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into '
        "Go struct field Widget.data of type string")


@pytest.mark.parametrize(("text", "error"), [
    ("aGVsbG8=", None), ("aGVs\nbG8=", None), ("", None), ("aGVsbA==", None),
    ("abc", "illegal base64 data at input byte 0"),
    ("a!bc", "illegal base64 data at input byte 1"),
    ("aGVsbG8", "illegal base64 data at input byte 4"),
    ("aGVsbG8==", "illegal base64 data at input byte 8"),
    ("aGVsbA=", "illegal base64 data at input byte 7"),
    ("aGVsbA=x", "illegal base64 data at input byte 6"),
    ("a===", "illegal base64 data at input byte 1"),
])
def test_base64_errors_match_gos_offsets(text: str, error: str | None) -> None:
    assert go_base64_error(text) == error
    if error is None:
        base64.b64decode(text.replace("\n", ""), validate=True)  # really valid


@pytest.mark.parametrize(("value", "error"), [
    ("2024-05-01T10:00:00Z", None), ("2024-05-01T10:00:00.123456+05:30", None), ("2024-02-29T00:00:00Z", None),
    ("2024-05-01", 'parsing time "2024-05-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"'),
    ("2024-05-01T10:00:00",
     'parsing time "2024-05-01T10:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00"'),
    ("2024-5-01T10:00:00Z",
     'parsing time "2024-5-01T10:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse "5-01T10:00:00Z" as "01"'),
    ("2024-13-01T10:00:00Z", 'parsing time "2024-13-01T10:00:00Z": month out of range'),
    ("2023-02-29T10:00:00Z", 'parsing time "2023-02-29T10:00:00Z": day out of range'),
    ("2024-05-01T24:00:00Z", 'parsing time "2024-05-01T24:00:00Z": hour out of range'),
    ("2024-05-01T10:00:00Zjunk", 'parsing time "2024-05-01T10:00:00Zjunk": extra text: "junk"'),
])
def test_rfc3339_errors_match_gos_time_parse(value: str, error: str | None) -> None:
    assert go_rfc3339_error(value) == error


def test_patch_meta_reads_strategic_merge_extensions() -> None:
    meta = patch_meta(WIDGET, SCHEMAS)
    assert meta.lookup(("metadata", "finalizers")) == ("merge", None)
    assert meta.lookup(("metadata", "ownerReferences")) == ("merge", "uid")
    assert meta.lookup(("metadata", "labels")) == (None, None)
    assert meta.lookup(("metadata", "nope")) == (None, None)
    assert meta.lookup(("spec", "items", "name")) == (None, None)  # list items are transparent
    assert meta.schema_at(("spec", "items", "name")) == {"type": "string"}
    assert meta.schema_at(("data", "anykey")) == {"type": "string"}
    assert meta.schema_at(("spec", "missing")) is None


def test_patch_meta_through_nested_lists_of_refs() -> None:
    schemas = {
        "a.v1.Pod": {"properties": {"spec": ref_field("a.v1.PodSpec", "")}, "type": "object"},
        "a.v1.PodSpec": {"properties": {"containers": {
            "items": ref("a.v1.Container"), "type": "array",
            "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}}, "type": "object"},
        "a.v1.Container": {"properties": {"env": {
            "items": {"allOf": [ref("a.v1.EnvVar")]}, "type": "array",
            "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge,retainKeys"}},
            "type": "object"},
        "a.v1.EnvVar": {"properties": {"name": {"type": "string"}}, "type": "object"},
    }
    meta = patch_meta("a.v1.Pod", schemas)
    assert meta.lookup(("spec", "containers")) == ("merge", "name")
    assert meta.lookup(("spec", "containers", "env")) == ("merge,retainKeys", "name")
    assert meta.lookup(("spec", "containers", "env", "name")) == (None, None)
