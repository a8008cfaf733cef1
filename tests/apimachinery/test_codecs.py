"""Body decoding, strict field validation, Accept negotiation and encoding, with kube's errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pbkinds import KINDS
from pbwire import envelope, ld

from kernel.apimachinery import codecs
from kernel.apimachinery.codecs import (DISCOVERY_CONVERSIONS, JSON, PROTOBUF, TABLE_CONVERSIONS,
                                        YAML, MediaType, encode, negotiate)
from kernel.apimachinery.status import StatusError

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "kubectl_bodies.json").read_text())
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}}
UNKNOWN_FORMAT = "the body of the request was in an unknown format - accepted media types include: "
JSON_PARSE = "couldn't get version/kind; json parse error: "
FIND_KIND = ('struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
             'Kind string "json:\\"kind,omitempty\\"" }')


def decode_body(content_type: str | None, body: bytes, gvk: tuple[str, str] | None = None,
                kinds: Any = KINDS) -> Any:
    """codecs.decode_body as an endpoint calls it, with the kinds the plugins declare."""
    return codecs.decode_body(content_type, body, gvk, kinds)


def refused(content_type: str | None, body: bytes, **kwargs: Any) -> StatusError:
    with pytest.raises(StatusError) as info:
        decode_body(content_type, body, **kwargs)
    return info.value


# --- decode_body -----------------------------------------------------------------------------

@pytest.mark.parametrize(("content_type", "body"), [
    (None, json.dumps(CM).encode()),  # the Python client sends no Content-Type
    ("", json.dumps(CM).encode()),
    ("application/json", json.dumps(CM).encode()),
    ("Application/JSON; charset=utf-8", json.dumps(CM, indent=2).encode()),
    ("application/yaml", yaml.safe_dump(CM).encode()),
    ("application/yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: '1'\n"
                         b"---\nkind: Ignored\n"),  # kube reads only the first document
    (PROTOBUF, envelope("v1", "ConfigMap", ld(1, ld(1, "x")) + ld(2, ld(1, "a") + ld(2, "1")))),
])
def test_decode_body_accepts_each_format(content_type: str | None, body: bytes) -> None:
    assert decode_body(content_type, body) == CM


def test_yaml_keeps_timestamps_as_strings_and_keys_as_json_has_them() -> None:
    body = b"a: 2024-01-02T03:04:05Z\nb: 2024-01-02\nc: yes\n2: two\ntrue: t\nd: !!binary aGk=\n"
    assert decode_body(YAML, body) == {"a": "2024-01-02T03:04:05Z", "b": "2024-01-02", "c": True,
                                       "2": "two", "true": "t", "d": "hi"}


def test_json_with_invalid_utf8_is_read_as_go_reads_it() -> None:
    assert decode_body(JSON, b'{"kind":"\xff"}') == {"kind": "\ufffd"}


@pytest.mark.parametrize(("content_type", "accepted"), [
    ("text/plain", "application/json, application/yaml, application/vnd.kubernetes.protobuf"),
    ("application/merge-patch+json", "application/json, application/yaml, "
                                     "application/vnd.kubernetes.protobuf"),
    ("application/", "application/json, application/yaml, application/vnd.kubernetes.protobuf"),
    ("json", "application/json, application/yaml, application/vnd.kubernetes.protobuf"),
    ("application/json;charset", "application/json, application/yaml, "
                                 "application/vnd.kubernetes.protobuf"),
])
def test_unsupported_content_type_is_415(content_type: str, accepted: str) -> None:
    error = refused(content_type, b"{}")
    assert (error.code, error.reason, error.message) == (415, "UnsupportedMediaType",
                                                         UNKNOWN_FORMAT + accepted)


def test_protobuf_of_a_kind_we_cannot_read_is_415_without_protobuf_listed() -> None:
    error = refused(PROTOBUF, envelope("batch/v1", "Job", b""))
    assert (error.code, error.message) == (415, UNKNOWN_FORMAT + "application/json, application/yaml")
    assert error.details == {"causes": [{"message": "Job in batch/v1 cannot be read from protobuf here"}]}


JSON_ERRORS = [
    (b"", "unexpected end of JSON input"),
    (b"   ", "unexpected end of JSON input"),
    (b'{"kind":', "unexpected end of JSON input"),
    (b'{"kind":"ConfigMap', "unexpected end of JSON input"),
    (b"kind: ConfigMap", "invalid character 'k' looking for beginning of value"),
    (b'{"a":1}x', "invalid character 'x' after top-level value"),
    (b'{"a" 1}', "invalid character '1' after object key"),
    (b'{"a":1,}', "invalid character '}' looking for beginning of object key string"),
    (b"{'a':1}", "invalid character '\\'' looking for beginning of object key string"),
    (b'{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
    (b'{"a":[1 2]}', "invalid character '2' after array element"),
    (b'{"a":[1,]}', "invalid character ']' looking for beginning of value"),
    (b'{"a":"\\q"}', "invalid character 'q' in string escape code"),
    (b'{"a":"x\ny"}', "invalid character '\\n' in string literal"),
    (b'{"a":NaN}', "invalid character 'N' looking for beginning of value"),
    (b"[]", f"json: cannot unmarshal array into Go value of type {FIND_KIND}"),
    (b'"ConfigMap"', f"json: cannot unmarshal string into Go value of type {FIND_KIND}"),
    (b"1", f"json: cannot unmarshal number into Go value of type {FIND_KIND}"),
    (b"true", f"json: cannot unmarshal bool into Go value of type {FIND_KIND}"),
    (b'{"kind":1}', "json: cannot unmarshal number into Go struct field .kind of type string"),
    (b'{"apiVersion":["v1"]}',
     "json: cannot unmarshal array into Go struct field .apiVersion of type string"),
]


@pytest.mark.parametrize(("body", "message"), JSON_ERRORS, ids=[b.decode() for b, _ in JSON_ERRORS])
def test_malformed_json_is_400_in_go_words(body: bytes, message: str) -> None:
    error = refused(JSON, body)
    assert (error.code, error.reason, error.message) == (400, "BadRequest", JSON_PARSE + message)


def test_json_null_has_no_kind() -> None:
    assert refused(JSON, b"null").message == "Object 'Kind' is missing in 'null'"


YAML_ERRORS = [
    (b"a: b: c", "yaml: mapping values are not allowed in this context"),
    (b"a: 1\nb: [1", "yaml: line 2: did not find expected ',' or ']'"),
    (b"a:\n  - 1\n - 2", "yaml: line 2: did not find expected key"),
    (b"a: 1\n\tb: 2", "yaml: line 2: found a tab character that violates indentation"),
    (b"a: 1\n@b: 2", "yaml: line 2: found character that cannot start any token"),
    (b"a: *nothing", "yaml: found undefined alias"),
    (b"a: .inf", "json: unsupported value: +Inf"),
    (b"- 1", JSON_PARSE + f"json: cannot unmarshal array into Go value of type {FIND_KIND}"),
    (b"", "Object 'Kind' is missing in 'null'"),
]


@pytest.mark.parametrize(("body", "message"), YAML_ERRORS, ids=[b.decode() for b, _ in YAML_ERRORS])
def test_malformed_yaml_is_400(body: bytes, message: str) -> None:
    error = refused(YAML, body)
    assert (error.code, error.message) == (400, message)


def test_errors_name_the_endpoint_kind_like_kube() -> None:
    gvk = ("v1", "ConfigMap")
    assert refused(JSON, b"x", gvk=gvk).message == (
        "the object provided is unrecognized (must be of type ConfigMap): "
        f"{JSON_PARSE}invalid character 'x' looking for beginning of value (78)")
    assert refused(JSON, b'{"kind":"ConfigMap","data":{"a":"1","b":"2","c":', gvk=gvk).message == (
        "the object provided is unrecognized (must be of type ConfigMap): "
        f'{JSON_PARSE}unexpected end of JSON input ({{"kind":"ConfigMap","data":{{"a ...)')
    # The object's own bytes are bad: kube knows the body's kind by then and names it.
    bad_object = envelope("v1", "ConfigMap", ld(1, ld(1, "x"))[:-1])
    assert refused(PROTOBUF, bad_object, gvk=gvk).message == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: unexpected EOF')
    # The envelope itself is cut short: kube knows nothing of the body and summarizes it.
    assert refused(PROTOBUF, envelope("v1", "ConfigMap", b"ab")[:-1], gvk=gvk).message == (
        "the object provided is unrecognized (must be of type ConfigMap): unexpected EOF "
        "(6b3873000a0f0a0276311209436f6e6669674d6170120261)")
    assert refused(PROTOBUF, b"k8s", gvk=gvk).message == (
        "the object provided is unrecognized (must be of type ConfigMap): provided data does not "
        "appear to be a protobuf message, expected prefix [107 56 115 0] (6b3873)")
    assert refused(PROTOBUF, b"", gvk=gvk).message.endswith("(<empty>)")


def test_protobuf_envelope_without_type_meta_takes_the_endpoint_kind() -> None:
    bare = b"k8s\x00" + ld(2, ld(1, ld(1, "foo")))
    assert decode_body(PROTOBUF, bare, gvk=("v1", "Namespace")) == {
        "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "foo"}}


# --- strict field validation -----------------------------------------------------------------

def test_duplicate_json_fields() -> None:
    body = (b'{"kind":"ConfigMap","metadata":{"name":"a","labels":{"x":"1","x":"2"},"name":"b",'
            b'"name":"c"},"spec":{"containers":[{"name":"c","ports":[{"p":1,"p":2}]}]},"kind":"X"}')
    assert codecs.find_duplicate_fields(body) == [
        "metadata.labels.x", "metadata.name", "spec.containers[0].ports[0].p", "kind"]
    assert codecs.duplicate_field_errors(b'{"name":1,"name":2}') == ['duplicate field "name"']
    assert codecs.find_duplicate_fields(b'{"a":1}') == []
    assert codecs.find_duplicate_fields(b"{not json") == []
    assert codecs.find_duplicate_fields(b"[" * 5000 + b"]" * 5000) == []  # too deep to walk


def test_duplicate_yaml_fields() -> None:
    body = b"kind: ConfigMap\nmetadata:\n  name: a\n  name: b\ndata:\n  k: 1\n  k: 2\nl:\n- {a: 1, a: 2}\n"
    assert codecs.find_duplicate_fields(body, YAML) == ["metadata.name", "data.k", "l[0].a"]
    assert codecs.duplicate_field_errors(body, YAML) == [
        'yaml: unmarshal errors:\n  line 4: key "name" already set in map\n'
        '  line 7: key "k" already set in map\n  line 9: key "a" already set in map']
    assert codecs.duplicate_field_errors(b"a: 1\n", YAML) == []
    assert codecs.duplicate_field_errors(b"labels:\n  app.k8s.io/x: 1\n  app.k8s.io/x: 2\n", YAML) == [
        'yaml: unmarshal errors:\n  line 3: key "app.k8s.io/x" already set in map']
    assert codecs.find_duplicate_fields(b"a: [", YAML) == []


def test_unknown_fields_and_the_strict_error() -> None:
    schema: codecs.Schema = {"apiVersion": None, "kind": None,
                             "metadata": {"name": None, "labels": {"*": None}},
                             "data": {"*": None}, "items": [{"name": None}]}
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "dta": {}, "metadata": {"name": "x",
           "labels": {"any": "thing"}, "nmae": "y"}, "items": [{"name": "a"}, {"size": 1}],
           "data": {"free": "form"}}
    unknown = codecs.find_unknown_fields(obj, schema)
    assert unknown == ["dta", "metadata.nmae", "items[1].size"]
    errors = codecs.duplicate_field_errors(b'{"metadata":{"name":1,"name":2}}')
    errors += codecs.unknown_field_errors(unknown)
    error = codecs.strict_decoding_error(errors, "v1", "ConfigMap")
    assert (error.code, error.reason) == (400, "BadRequest")
    assert error.message == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'duplicate field "metadata.name", unknown field "dta", unknown field "metadata.nmae", '
        'unknown field "items[1].size"')
    assert "in version \"v1\" cannot be handled as a Deployment" in codecs.strict_decoding_error(
        [], "apps/v1", "Deployment").message


# --- negotiate -------------------------------------------------------------------------------

KUBECTL_TABLE = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                 "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
KUBECTL_DISCOVERY = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                     "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                     "application/json")
TABLE = MediaType(JSON, "Table", "meta.k8s.io", "v1")
DISCOVERY = MediaType(JSON, "APIGroupDiscoveryList", "apidiscovery.k8s.io", "v2")

NEGOTIATIONS: list[tuple[str | None, dict[str, Any], MediaType]] = [
    (None, {}, MediaType()),
    ("", {}, MediaType()),
    ("*/*", {}, MediaType()),
    ("*", {}, MediaType()),
    ("application/*", {}, MediaType()),
    ("application/json", {}, MediaType()),
    ("Application/JSON; charset=utf-8", {}, MediaType()),
    ("application/yaml", {}, MediaType(YAML)),
    ("text/html, application/yaml", {}, MediaType(YAML)),
    (KUBECTL_TABLE, {}, TABLE),
    (KUBECTL_TABLE, {"conversions": TABLE_CONVERSIONS}, TABLE),
    (KUBECTL_TABLE, {"conversions": DISCOVERY_CONVERSIONS}, MediaType()),  # falls through
    (KUBECTL_DISCOVERY, {}, DISCOVERY),
    (KUBECTL_DISCOVERY, {"conversions": TABLE_CONVERSIONS}, MediaType()),
    ("application/json;as=Table;g=meta.k8s.io;v=v1beta1", {}, MediaType(JSON, "Table", "meta.k8s.io", "v1beta1")),
    ("application/yaml;as=Table;v=v1;g=meta.k8s.io", {}, MediaType(YAML, "Table", "meta.k8s.io", "v1")),
    ("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1", {},
     MediaType(JSON, "PartialObjectMetadataList", "meta.k8s.io", "v1")),
    ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", {},
     MediaType(JSON, "PartialObjectMetadata", "meta.k8s.io", "v1")),
    ("application/json;as=Table,application/yaml", {}, MediaType(YAML)),  # no g/v: not a conversion
    ("application/json;as=Table;g=meta.k8s.io;v=v2,application/json", {}, MediaType()),
    ("application/vnd.kubernetes.protobuf,application/json", {}, MediaType()),
    ("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,"
     "application/json;as=Table;v=v1;g=meta.k8s.io,application/json", {}, TABLE),
    ("application/json;q=0.5, application/yaml", {}, MediaType(YAML)),
    ("application/yaml;q=0.9, application/json;q=0.9", {}, MediaType(YAML)),  # ties keep order
    ("*/*, application/yaml", {}, MediaType(YAML)),  # the more specific first on ties
    ("application/yaml;q=0, */*", {}, MediaType()),
    ("application/yaml;q=abc, application/json", {}, MediaType()),  # a bad q is no q at all
    ("application/json;pretty=1", {}, MediaType(pretty=True)),
    ("application/json;sv=v1,application/yaml", {}, MediaType(YAML)),
    ("application/json;stream=watch", {}, MediaType(stream="watch")),
    ("application/json;stream=other,application/yaml", {}, MediaType(YAML)),
    ("application/yaml;stream=watch,application/json", {}, MediaType()),
    (None, {"stream": True}, MediaType(stream="watch")),
    ("application/json", {"stream": True}, MediaType(stream="watch")),
    (KUBECTL_TABLE, {"stream": True}, MediaType(JSON, "Table", "meta.k8s.io", "v1", "watch")),
]


def _stable(options: dict[str, Any]) -> str:
    """A test id that does not depend on set order (pytest-xdist's workers must agree)."""
    return repr({k: sorted(v) if isinstance(v, (set, frozenset)) else v for k, v in options.items()})


@pytest.mark.parametrize(("accept", "options", "expected"), NEGOTIATIONS,
                         ids=[f"{a}|{_stable(o)}" for a, o, _ in NEGOTIATIONS])
def test_negotiate(accept: str | None, options: dict[str, Any], expected: MediaType) -> None:
    assert negotiate(accept, **options) == expected


@pytest.mark.parametrize(("accept", "stream", "accepted"), [
    ("application/vnd.kubernetes.protobuf", False, "application/json, application/yaml"),
    ("text/html", False, "application/json, application/yaml"),
    ("application/json;q=0", False, "application/json, application/yaml"),
    ("garbage", False, "application/json, application/yaml"),
    ("application/json;as=Table", False, "application/json, application/yaml"),
    ("*/json", False, "application/json, application/yaml"),
    ("application/yaml", True, "application/json;stream=watch"),
    ("application/vnd.kubernetes.protobuf;stream=watch", True, "application/json;stream=watch"),
])
def test_negotiate_406(accept: str, stream: bool, accepted: str) -> None:
    with pytest.raises(StatusError) as info:
        negotiate(accept, stream=stream)
    assert (info.value.code, info.value.reason, info.value.message) == (
        406, "NotAcceptable", f"only the following media types are accepted: {accepted}")
    assert info.value.status()["code"] == 406


def test_content_types_are_written_as_kube_writes_them() -> None:
    assert negotiate(KUBECTL_DISCOVERY).content_type == (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    assert negotiate(KUBECTL_TABLE).content_type == "application/json;as=Table;v=v1;g=meta.k8s.io"
    assert negotiate("application/yaml").content_type == "application/yaml"
    assert negotiate(None).content_type == "application/json"


# --- encode and round trips ------------------------------------------------------------------

def test_encode_json_and_yaml() -> None:
    assert encode({"b": 1, "a": "é"}) == b'{"b":1,"a":"\xc3\xa9"}\n'
    assert encode({"b": 1, "a": [1]}, MediaType(pretty=True)) == b'{\n  "b": 1,\n  "a": [\n    1\n  ]\n}\n'
    assert encode({"b": 1, "a": [1]}, JSON, pretty=True).startswith(b'{\n  "b"')
    assert encode({"b": {"y": 1, "x": "é"}, "a": None}, YAML) == "a: null\nb:\n  x: é\n  y: 1\n".encode()
    assert encode({"a": 1}, MediaType(YAML, "Table", "meta.k8s.io", "v1")) == b"a: 1\n"
    with pytest.raises(StatusError) as info:
        encode({}, "text/plain")
    assert info.value.code == 406


OBJECTS = [CM] + [f["json"] for f in FIXTURES.values() if "json" in f] + [
    {"a": "2024-01-02T03:04:05Z", "b": "yes", "c": "1", "d": "null", "e": "", "f": None,
     "g": [1.5, -2, True, {"h": "multi\nline"}], "i": "0o17", "j": "~", "k": "'quoted'"},
]


@pytest.mark.parametrize("media", [JSON, YAML])
@pytest.mark.parametrize("obj", OBJECTS, ids=range(len(OBJECTS)))
def test_round_trip(obj: dict[str, Any], media: str) -> None:
    assert decode_body(media, encode(obj, media)) == obj


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_kubectl_protobuf_bodies_through_decode_body(name: str) -> None:
    obj = decode_body(FIXTURES[name]["contentType"], bytes.fromhex(FIXTURES[name]["hex"]))
    assert decode_body(None, encode(obj)) == obj


@pytest.mark.parametrize(("media", "body", "message"), [
    (JSON, b"[" * 5000 + b"]" * 5000, JSON_PARSE + "exceeded max depth of 100"),
    (JSON, b'{"a":' * 5000, JSON_PARSE + "exceeded max depth of 100"),
    (YAML, b"a: " + b"[" * 5000, "yaml: exceeded max depth of 100"),
    (YAML, b"- " * 5000 + b"x", "yaml: exceeded max depth of 100"),
])
def test_deep_nesting_is_400_not_a_crash(media: str, body: bytes, message: str) -> None:
    assert refused(media, body).message == message
