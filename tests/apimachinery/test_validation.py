"""Name/label/annotation rules, field errors, ObjectMeta validation and the Invalid Status.

Expected texts are spelled out literally (copied from kube-apiserver's messages), never built
with the module's own helpers, so a drift in wording fails here.
"""

from __future__ import annotations

import re

import msgspec
import pytest

from kernel.apimachinery.meta import generate_name
from kernel.apimachinery.validation import (
    FieldError, GoLiteral, aggregate_message, go_quote, invalid, is_dns1123_label,
    is_dns1123_subdomain, is_label_value, is_qualified_name, name_is_dns_label, name_is_dns_subdomain,
    validate_annotations, validate_finalizers, validate_labels, validate_namespace_name,
    validate_object_meta, validate_object_meta_update, validate_path_segment_name)

SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
             "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
             r"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
         "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
         "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
NAME_PART = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
             "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
             "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
               "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
               "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
MULTI_SLASH = ("a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start "
               "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
               "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
               "subdomain prefix and '/' (e.g. 'example.com/MyName')")


@pytest.mark.parametrize("value, errors", [
    ("example.com", []),
    ("a", []),
    ("0-9.a-b", []),
    ("a" * 253, []),
    ("a" * 254, ["must be no more than 253 characters"]),
    ("Example.com", [SUBDOMAIN]),
    ("-a", [SUBDOMAIN]),
    ("a-", [SUBDOMAIN]),
    ("a..b", [SUBDOMAIN]),
    ("a_b", [SUBDOMAIN]),
    ("", [SUBDOMAIN]),
    ("a\n", [SUBDOMAIN]),  # Go's $ does not match before a trailing newline
    ("A" * 254, ["must be no more than 253 characters", SUBDOMAIN]),
])
def test_dns1123_subdomain(value: str, errors: list[str]) -> None:
    assert is_dns1123_subdomain(value) == errors


@pytest.mark.parametrize("value, errors", [
    ("my-name", []),
    ("123-abc", []),
    ("a" * 63, []),
    ("a" * 64, ["must be no more than 63 characters"]),
    ("a.b", ["must not contain dots"]),
    ("My-Name", [LABEL]),
    ("a_b", [LABEL]),
    ("", [LABEL]),
    ("a" * 32 + "." + "a" * 32, ["must be no more than 63 characters", "must not contain dots"]),
])
def test_dns1123_label(value: str, errors: list[str]) -> None:
    assert is_dns1123_label(value) == errors


@pytest.mark.parametrize("value, errors", [
    ("app", []),
    ("App.Name_1-x", []),
    ("example.com/app", []),
    ("a" * 63, []),
    ("a" * 64, ["name part must be no more than 63 bytes"]),
    ("é", [NAME_PART]),
    ("-app", [NAME_PART]),
    ("", ["name part must be non-empty", NAME_PART]),
    ("/app", ["prefix part must be non-empty"]),
    ("example.com/", ["name part must be non-empty", NAME_PART]),
    ("Example.com/app", ["prefix part " + SUBDOMAIN]),
    ("a" * 254 + "/app", ["prefix part must be no more than 253 bytes"]),
    ("a/b/c", [MULTI_SLASH]),
])
def test_qualified_name(value: str, errors: list[str]) -> None:
    assert is_qualified_name(value) == errors


@pytest.mark.parametrize("value, errors", [
    ("", []),
    ("v", []),
    ("My_Value-1.2", []),
    ("a" * 63, []),
    ("a" * 64, ["must be no more than 63 bytes"]),
    ("-v", [LABEL_VALUE]),
    ("v v", [LABEL_VALUE]),
    ("v/", [LABEL_VALUE]),
])
def test_label_value(value: str, errors: list[str]) -> None:
    assert is_label_value(value) == errors


@pytest.mark.parametrize("name, prefix, errors", [
    ("foo", False, []),
    ("foo-", False, [SUBDOMAIN]),
    ("foo-", True, []),           # generateName may end in '-'
    ("Fo-", True, [SUBDOMAIN]),    # masked to "Fa": still upper case
    ("ab.-", True, []),            # kube masks the last *two* characters: "ab.-" -> "aba"
    ("ab.-x", True, [SUBDOMAIN]),  # no trailing dash: nothing masked
])
def test_name_is_dns_subdomain(name: str, prefix: bool, errors: list[str]) -> None:
    assert name_is_dns_subdomain(name, prefix) == errors


def test_namespace_name_is_a_label() -> None:
    assert validate_namespace_name is name_is_dns_label
    assert name_is_dns_label("kube-system") == []
    assert name_is_dns_label("a.b") == ["must not contain dots"]
    assert name_is_dns_label("ns-", True) == []


@pytest.mark.parametrize("name, prefix, errors", [
    ("anything:Goes_Here", False, []),
    (".", False, ["may not be '.'"]),
    ("..", False, ["may not be '..'"]),
    ("..", True, []),
    ("a/b", False, ["may not contain '/'"]),
    ("a%b/c", False, ["may not contain '/'", "may not contain '%'"]),
    ("a%", True, ["may not contain '%'"]),
    ("...", False, []),
])
def test_path_segment_name(name: str, prefix: bool, errors: list[str]) -> None:
    assert validate_path_segment_name(name, prefix) == errors


@pytest.mark.parametrize("value, quoted", [
    ("abc", '"abc"'),
    ('a"b\\c', r'"a\"b\\c"'),
    ("tab\there\n", r'"tab\there\n"'),
    ("\x00\x7f", r'"\x00\x7f"'),
    ("é日本", '"é日本"'),
    ("\u00a0", r'"\u00a0"'),
])
def test_go_quote(value: str, quoted: str) -> None:
    assert go_quote(value) == quoted


@pytest.mark.parametrize("error, text", [
    (FieldError.required("metadata.name", "name or generateName is required"),
     "metadata.name: Required value: name or generateName is required"),
    (FieldError.required("metadata.namespace"), "metadata.namespace: Required value"),
    (FieldError.invalid("metadata.name", "Foo", "bad"), 'metadata.name: Invalid value: "Foo": bad'),
    (FieldError.invalid("metadata.generation", -1, "must be greater than or equal to 0"),
     "metadata.generation: Invalid value: -1: must be greater than or equal to 0"),
    (FieldError.invalid("spec.flag", True, "no"), "spec.flag: Invalid value: true: no"),
    (FieldError.invalid("spec.ptr", None, "no"), "spec.ptr: Invalid value: null: no"),
    (FieldError.invalid("f", ["a", "b"], "x"), 'f: Invalid value: []string{"a", "b"}: x'),
    (FieldError.invalid("f", GoLiteral("[]string(nil)"), "x"), "f: Invalid value: []string(nil): x"),
    (FieldError.duplicate("spec.ports[1].name", "http"), 'spec.ports[1].name: Duplicate value: "http"'),
    (FieldError.not_supported("spec.policy", "Sometimes", ["Always", "Never"]),
     'spec.policy: Unsupported value: "Sometimes": supported values: "Always", "Never"'),
    (FieldError.not_supported("spec.policy", "x"), 'spec.policy: Unsupported value: "x"'),
    (FieldError.forbidden("metadata.namespace", "not allowed on this type"),
     "metadata.namespace: Forbidden: not allowed on this type"),
    (FieldError.too_long("metadata.annotations", "", 262144),
     "metadata.annotations: Too long: must have at most 262144 bytes"),
    (FieldError.too_many("spec.items", 5, 3), "spec.items: Too many: 5: must have at most 3 items"),
    (FieldError.too_many("spec.items", None, -1), "spec.items: Too many: has too many items"),
    (FieldError.not_found("spec.ref", "x"), 'spec.ref: Not found: "x"'),
    (FieldError.internal("metadata.name", "boom"), "metadata.name: Internal error: boom"),
])
def test_field_error_rendering(error: FieldError, text: str) -> None:
    assert str(error) == text
    assert error.cause()["message"] == text.split(": ", 1)[1]


@pytest.mark.parametrize("errors, text", [
    ([], ""),
    (["a"], "a"),
    (["a", "b"], "[a, b]"),
    (["a", "b", "a"], "[a, b]"),
    (["a", "a"], "a"),
])
def test_aggregate_message(errors: list[str], text: str) -> None:
    assert aggregate_message(errors) == text


def test_labels_annotations_finalizers() -> None:
    assert validate_labels({"app": "web", "example.com/tier": ""}) == []
    assert [str(e) for e in validate_labels({"-bad": "ok", "ok": "-bad"})] == [
        f'metadata.labels: Invalid value: "-bad": {NAME_PART}',
        f'metadata.labels: Invalid value: "-bad": {LABEL_VALUE}',
    ]
    # annotation keys ignore case; values are free-form
    assert validate_annotations({"Example.COM/Key": "-any value-"}) == []
    assert [str(e) for e in validate_annotations({"a b": "v"})] == [
        f'metadata.annotations: Invalid value: "a b": {NAME_PART}']
    assert validate_annotations({"k": "v" * (256 * 1024 - 1)}) == []
    assert [str(e) for e in validate_annotations({"k": "v" * (256 * 1024)})] == [
        "metadata.annotations: Too long: must have at most 262144 bytes"]
    assert validate_finalizers(["kubernetes", "example.com/cleanup"]) == []
    assert [str(e) for e in validate_finalizers(["orphan", "foregroundDeletion"])] == [
        ('metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: '
        "finalizer orphan and foregroundDeletion cannot be both set")]
    assert [str(e) for e in validate_finalizers(["a/b/c"])] == [
        f'metadata.finalizers: Invalid value: "a/b/c": {MULTI_SLASH}']


def _messages(errors: list[FieldError]) -> list[str]:
    return [str(e) for e in errors]


@pytest.mark.parametrize("meta, namespaced, expected", [
    ({"name": "ok", "namespace": "default"}, True, []),
    ({"name": "ok"}, False, []),
    ({"name": "Bad_Name", "namespace": "default"}, True,
     [f'metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN}']),
    ({"namespace": "default"}, True, ["metadata.name: Required value: name or generateName is required"]),
    ({"name": "ok"}, True, ["metadata.namespace: Required value"]),
    ({"name": "ok", "namespace": "default"}, False, ["metadata.namespace: Forbidden: not allowed on this type"]),
    ({"name": "ok", "namespace": "a.b"}, True, ['metadata.namespace: Invalid value: "a.b": must not contain dots']),
    ({"name": "ok", "namespace": "NS"}, True, [f'metadata.namespace: Invalid value: "NS": {LABEL}']),
    ({"name": "ok", "generation": -1}, False,
     ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]),
    ({"name": "web-x7k2q", "generateName": "web-"}, False, []),
    ({"name": "Web-x7k2q", "generateName": "Web-"}, False, [
        f'metadata.generateName: Invalid value: "Web-": {SUBDOMAIN}',
        f'metadata.name: Invalid value: "Web-x7k2q": {SUBDOMAIN}']),
    ({"name": "ok", "ownerReferences": [{"apiVersion": "apps/", "kind": "", "name": "o", "uid": "u"}]}, False, [
        'metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": must not be empty']),
    # kube's order: name, namespace, labels, annotations, finalizers
    ({"name": "B", "labels": {"k": "-"}, "annotations": {"-": ""}, "finalizers": ["-"]}, True, [
        f'metadata.name: Invalid value: "B": {SUBDOMAIN}',
        "metadata.namespace: Required value",
        f'metadata.labels: Invalid value: "-": {LABEL_VALUE}',
        f'metadata.annotations: Invalid value: "-": {NAME_PART}',
        f'metadata.finalizers: Invalid value: "-": {NAME_PART}']),
])
def test_validate_object_meta(meta: dict, namespaced: bool, expected: list[str]) -> None:
    assert _messages(validate_object_meta(meta, namespaced=namespaced, name_validator=name_is_dns_subdomain)) == expected


def test_object_meta_name_validator_and_create_flag() -> None:
    meta = {"name": "a.b", "namespace": "n"}
    assert validate_object_meta(meta, namespaced=True, name_validator=name_is_dns_subdomain) == []
    assert _messages(validate_object_meta(meta, namespaced=True, name_validator=name_is_dns_label)) == [
        'metadata.name: Invalid value: "a.b": must not contain dots']
    assert validate_object_meta({"name": "a:b"}, namespaced=False, name_validator=validate_path_segment_name) == []
    # before name generation a create with only generateName is not missing its name; an update is
    pending = {"generateName": "web-", "namespace": "n"}
    assert validate_object_meta(pending, namespaced=True, name_validator=name_is_dns_subdomain, is_create=True) == []
    assert _messages(validate_object_meta(pending, namespaced=True, name_validator=name_is_dns_subdomain,
                                          is_create=False)) == [
        "metadata.name: Required value: name or generateName is required"]


OLD = {"name": "cm", "namespace": "ns", "uid": "u-1", "resourceVersion": "5", "generation": 2,
       "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"a": "b"}}


@pytest.mark.parametrize("change, expected", [
    ({}, []),
    ({"labels": {"a": "c"}, "resourceVersion": "6"}, []),
    ({"creationTimestamp": "2024-01-02T03:04:05+00:00"}, []),
    ({"name": "other"}, ['metadata.name: Invalid value: "other": field is immutable']),
    ({"namespace": "x"}, ['metadata.namespace: Invalid value: "x": field is immutable']),
    ({"uid": "u-2"}, ['metadata.uid: Invalid value: "u-2": field is immutable']),
    ({"resourceVersion": ""}, ['metadata.resourceVersion: Invalid value: "": must be specified for an update']),
    ({"generation": 1}, ["metadata.generation: Invalid value: 1: must not be decremented"]),
    ({"creationTimestamp": "2025-01-01T00:00:00Z"},
     ["metadata.creationTimestamp: Invalid value: 2025-01-01 00:00:00 +0000 UTC: field is immutable"]),
    ({"deletionTimestamp": "2025-01-01T00:00:00Z"},
     ["metadata.deletionTimestamp: Invalid value: 2025-01-01 00:00:00 +0000 UTC: field is immutable"]),
    ({"deletionGracePeriodSeconds": 30},
     ["metadata.deletionGracePeriodSeconds: Invalid value: 30: field is immutable"]),
    ({"labels": {"a": "-"}}, [f'metadata.labels: Invalid value: "-": {LABEL_VALUE}']),
])
def test_validate_object_meta_update(change: dict, expected: list[str]) -> None:
    assert _messages(validate_object_meta_update({**OLD, **change}, OLD)) == expected


def test_update_cannot_add_finalizers_while_deleting() -> None:
    old = {**OLD, "deletionTimestamp": "2024-05-05T00:00:00Z", "finalizers": ["a"]}
    assert validate_object_meta_update({**old, "finalizers": []}, old) == []
    assert _messages(validate_object_meta_update({**old, "finalizers": ["a", "z", "b"]}, old)) == [
        ("metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, "
        'found new finalizers []string{"b", "z"}')]


def test_invalid_status_single_error() -> None:
    errors = validate_object_meta({"name": "Bad_Name", "namespace": "default"}, namespaced=True,
                                  name_validator=name_is_dns_subdomain)
    err = invalid("ConfigMap", "Bad_Name", errors)
    assert err.code == 422
    assert msgspec.json.decode(err.body()) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN}',
        "reason": "Invalid",
        "details": {"name": "Bad_Name", "kind": "ConfigMap", "causes": [
            {"reason": "FieldValueInvalid", "message": f'Invalid value: "Bad_Name": {SUBDOMAIN}',
             "field": "metadata.name"}]},
        "code": 422,
    }


def test_invalid_status_many_errors_group_and_duplicates() -> None:
    dup = FieldError.required("spec.x")
    errors = [FieldError.invalid("metadata.name", "A", "bad"), dup, dup]
    err = invalid("Deployment", "A", errors, group="apps")
    # the message drops repeated texts, the causes keep every error
    assert err.message == 'Deployment.apps "A" is invalid: [metadata.name: Invalid value: "A": bad, spec.x: Required value]'
    assert err.details == {"name": "A", "group": "apps", "kind": "Deployment", "causes": [
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "A": bad', "field": "metadata.name"},
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.x"},
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.x"}]}
    assert list(err.details) == ["name", "group", "kind", "causes"]  # metav1.StatusDetails field order


def test_invalid_status_without_errors_and_quoting() -> None:
    err = invalid("Secret", 'we"ird', [])
    assert err.message == r'Secret "we\"ird" is invalid'
    assert err.details == {"name": 'we"ird', "kind": "Secret"}
    assert err.reason == "Invalid"


def test_generate_name() -> None:
    name = generate_name("web-")
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", name)
    assert len(generate_name("x" * 100)) == 63
    assert name_is_dns_subdomain(generate_name("web-")) == []
