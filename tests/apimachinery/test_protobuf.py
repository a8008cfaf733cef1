"""The hand-written protobuf decoder: real kubectl bodies, every field kind, and malformed input."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from pbkinds import KINDS
from pbwire import entry, envelope, ld, tag, varint, vi

from kernel.apimachinery import protobuf
from kernel.apimachinery.protobuf import DecodeError, Kinds, Message
from kernel.apimachinery.protobuf.schema import int32, int64, string

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "kubectl_bodies.json").read_text())


def decode(body: bytes, default: tuple[str, str] | None = None) -> dict[str, Any]:
    """The decoder as an endpoint calls it, reading the kinds the plugins declare (pbkinds)."""
    return protobuf.decode(body, default, KINDS)


def decode_object(raw: bytes, api_version: str, kind: str, kinds: Kinds = KINDS) -> dict[str, Any]:
    return protobuf.decode_object(raw, api_version, kind, kinds)


def without_nulls(obj: Any) -> Any:
    """kubectl's JSON has ``creationTimestamp: null`` where the decoder omits the zero time."""
    if isinstance(obj, dict):
        return {k: without_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [without_nulls(v) for v in obj]
    return obj


# --- bodies captured from kubectl 1.32 (tests/apimachinery/capture_kubectl.py) ---------------

@pytest.mark.parametrize("name", sorted(n for n, f in FIXTURES.items() if "json" in f))
def test_kubectl_create_bodies_decode_to_the_json_kubectl_prints(name: str) -> None:
    captured = FIXTURES[name]
    assert captured["contentType"] == "application/vnd.kubernetes.protobuf"
    assert decode(bytes.fromhex(captured["hex"])) == without_nulls(captured["json"])


REVIEWS = {
    "selfsubjectaccessreview": {
        "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {},
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}},
        "status": {"allowed": False}},
    "selfsubjectaccessreview_nonresource": {
        "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {},
        "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}},
        "status": {"allowed": False}},
    "selfsubjectrulesreview": {
        "kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {},
        "spec": {"namespace": "default"}, "status": {"incomplete": False}},
    "selfsubjectreview": {
        "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {},
        "status": {"userInfo": {}}},
    "tokenrequest": {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {},
        "spec": {"audiences": ["api", "vault"], "expirationSeconds": 600},
        # TokenRequestStatus.token has no omitempty: kube's JSON writes it even when empty
        "status": {"token": ""}},
}


@pytest.mark.parametrize("name", sorted(REVIEWS))
def test_kubectl_auth_and_token_bodies(name: str) -> None:
    assert decode(bytes.fromhex(FIXTURES[name]["hex"])) == REVIEWS[name]


def test_every_captured_body_is_covered() -> None:
    assert set(FIXTURES) == {n for n, f in FIXTURES.items() if "json" in f} | set(REVIEWS)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_live_kubectl() -> None:
    """The kubectl on this machine, not just the one that made the fixture (about 2 s)."""
    from capture_kubectl import COMMANDS, capture

    for name, sent in capture(COMMANDS).items():
        expected = without_nulls(sent["json"]) if "json" in sent else REVIEWS[name]
        assert decode(bytes.fromhex(sent["hex"])) == expected, name


# --- field kinds -----------------------------------------------------------------------------

def timestamp(seconds: int, nanos: int = 0) -> bytes:
    return vi(1, seconds) + (vi(2, nanos) if nanos else b"")


FULL_META = (
    ld(1, "cm") + ld(2, "cm-") + ld(3, "ns") + ld(5, "u-1") + ld(6, "42") + vi(7, 3)
    + ld(8, timestamp(1704164645, 999)) + ld(9, timestamp(1704164700)) + vi(10, 0)
    + entry(11, "app", "web") + entry(11, "tier", "") + entry(12, "note", "a=b")
    + ld(13, ld(5, "apps/v1") + ld(1, "Deployment") + ld(3, "web") + ld(4, "u-2") + vi(6, 1)
         + vi(7, 0))
    + ld(14, "example.com/a") + ld(14, "example.com/b")
    + ld(17, ld(1, "kubectl") + ld(2, "Apply") + ld(3, "v1") + ld(4, timestamp(0))
         + ld(6, "FieldsV1") + ld(7, ld(1, b'{"f:data":{}}')))
)
FULL_META_JSON = {
    "name": "cm", "generateName": "cm-", "namespace": "ns", "uid": "u-1", "resourceVersion": "42",
    "generation": 3, "creationTimestamp": "2024-01-02T03:04:05Z",
    "deletionTimestamp": "2024-01-02T03:05:00Z", "deletionGracePeriodSeconds": 0,
    "labels": {"app": "web", "tier": ""}, "annotations": {"note": "a=b"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                         "uid": "u-2", "controller": True, "blockOwnerDeletion": False}],
    "finalizers": ["example.com/a", "example.com/b"],
    "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                       "time": "1970-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                       "fieldsV1": {"f:data": {}}}],
}


def test_object_meta_every_field() -> None:
    raw = ld(1, FULL_META) + entry(2, "k", "v") + entry(3, "bin", b"\xff\x00") + vi(4, 0)
    assert decode(envelope("v1", "ConfigMap", raw)) == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": FULL_META_JSON,
        "data": {"k": "v"}, "binaryData": {"bin": "/wA="}, "immutable": False}


def test_secret_data_is_base64_and_string_data_is_not() -> None:
    raw = (ld(1, ld(1, "s")) + entry(2, "k", b"v\x00") + entry(4, "plain", "text")
           + ld(3, "Opaque") + vi(5, 1))
    assert decode(envelope("v1", "Secret", raw)) == {
        "kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s"},
        "data": {"k": "dgA="}, "stringData": {"plain": "text"}, "type": "Opaque",
        "immutable": True}


def test_namespace_service_account_and_token_review() -> None:
    ns = ld(1, ld(1, "x")) + ld(2, ld(1, "kubernetes")) + ld(3, ld(1, "Active"))
    assert decode(envelope("v1", "Namespace", ns)) == {
        "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "x"},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    sa = ld(1, ld(1, "sa")) + ld(2, ld(3, "tok") + ld(1, "Secret")) + ld(3, ld(1, "pull")) + vi(4, 0)
    assert decode(envelope("v1", "ServiceAccount", sa)) == {
        "kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "sa"},
        "secrets": [{"name": "tok", "kind": "Secret"}], "imagePullSecrets": [{"name": "pull"}],
        "automountServiceAccountToken": False}
    review = ld(2, ld(1, "abc") + ld(2, "api")) + ld(3, vi(1, 1) + ld(2, ld(1, "u") + ld(3, "g")
                                                              + entry(4, "x", ld(1, "1") + ld(1, "2"))))
    assert decode(envelope("authentication.k8s.io/v1", "TokenReview", review)) == {
        "kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
        "spec": {"token": "abc", "audiences": ["api"]},
        "status": {"authenticated": True, "user": {"username": "u", "groups": ["g"],
                                                   "extra": {"x": ["1", "2"]}}}}


def test_deployment_fields_beyond_what_kubectl_sets() -> None:
    container = (ld(1, "app") + ld(2, "img") + ld(3, "sh") + ld(4, "-c") + ld(4, "true")
                 + ld(6, ld(1, "http") + vi(3, 8080) + ld(4, "TCP"))
                 + ld(7, ld(1, "A") + ld(2, "1"))
                 + ld(7, ld(1, "B") + ld(3, ld(4, ld(1, ld(1, "sec")) + ld(2, "key"))))
                 + ld(8, entry(1, "cpu", ld(1, "500m")) + entry(2, "memory", ld(1, "64Mi")))
                 + ld(9, ld(1, "data") + ld(3, "/data") + vi(2, 1)))
    spec = (vi(1, 0) + ld(2, entry(1, "app", "x") + ld(2, ld(1, "tier") + ld(2, "In") + ld(3, "a")))
            + ld(3, ld(1, entry(11, "app", "x")) + ld(2, ld(2, container) + vi(4, 30)))
            + ld(4, ld(1, "RollingUpdate") + ld(2, ld(1, vi(1, 1) + ld(3, "25%")) + ld(2, vi(2, 1))))
            + vi(6, 10))
    assert decode(envelope("apps/v1", "Deployment", ld(2, spec)))["spec"] == {
        "replicas": 0,
        "selector": {"matchLabels": {"app": "x"},
                     "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]},
        "template": {"metadata": {"labels": {"app": "x"}}, "spec": {
            "containers": [{
                "name": "app", "image": "img", "command": ["sh"], "args": ["-c", "true"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "A", "value": "1"},
                        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "key"}}}],
                "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}]}],
            "terminationGracePeriodSeconds": 30}},
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
        "revisionHistoryLimit": 10}


# --- protobuf semantics ----------------------------------------------------------------------

SAMPLE = Message("Sample", {
    1: string("s"), 2: int32("i32"), 3: int64("i64"), 4: int32("nums", repeated=True),
    5: int32("kept", keep_zero=True),
})


@pytest.mark.parametrize(("raw", "expected"), [
    (ld(1, "a") + ld(1, "b"), {"s": "b"}),  # the last occurrence wins
    (ld(1, "a") + ld(1, ""), {}),  # ... even when it is empty: unset
    (vi(2, -5), {"i32": -5}),  # ten-byte sign-extended varint
    (vi(2, (1 << 32) + 7), {"i32": 7}),  # truncated to 32 bits, as Go does
    (vi(3, -(1 << 63)), {"i64": -(1 << 63)}),
    (vi(4, 1) + vi(4, 2), {"nums": [1, 2]}),
    (ld(4, varint(1) + varint(300) + varint(-1)), {"nums": [1, 300, -1]}),  # packed
    (vi(5, 0), {"kept": 0}),
    (ld(1, b"\xffok"), {"s": "\ufffdok"}),  # invalid UTF-8, as Go's JSON encoder shows it
    (ld(9, b"") + vi(10, 0) + tag(11, 5) + b"\0\0\0\0" + tag(12, 1) + bytes(8), {}),  # zero unknowns
    (tag(13, 3) + vi(1, 5) + tag(13, 4) + ld(1, "after"), {"s": "after"}),  # a group is skipped
])
def test_semantics(raw: bytes, expected: dict[str, Any]) -> None:
    assert decode_object(raw, "test/v1", "Sample", {("test/v1", "Sample"): SAMPLE}) == {"kind": "Sample", "apiVersion": "test/v1",
                                                        **expected}


def test_repeated_message_field_merges() -> None:
    raw = ld(1, ld(1, "a")) + ld(1, ld(3, "ns") + entry(11, "k", "v")) + ld(1, entry(11, "k2", "v"))
    assert decode_object(raw, "v1", "ConfigMap")["metadata"] == {
        "name": "a", "namespace": "ns", "labels": {"k": "v", "k2": "v"}}


@pytest.mark.parametrize(("time", "expected"), [
    (b"", None), (vi(1, 0), "1970-01-01T00:00:00Z"), (timestamp(1, 5), "1970-01-01T00:00:01Z"),
    (vi(1, -62135596800), None),  # Go's zero time: null in its JSON
    (vi(1, -62135596799), "0001-01-01T00:00:01Z"), (vi(1, 253402300799), "9999-12-31T23:59:59Z"),
])
def test_time(time: bytes, expected: str | None) -> None:
    meta = decode_object(ld(1, ld(8, time)), "v1", "ConfigMap")["metadata"]
    assert meta.get("creationTimestamp") == expected


@pytest.mark.parametrize("seconds", [253402300800, -62135596801, (1 << 63) - 1])
def test_time_out_of_range(seconds: int) -> None:
    with pytest.raises(DecodeError, match="Time out of range"):
        decode_object(ld(1, ld(8, vi(1, seconds))), "v1", "ConfigMap")


def test_unmodelled_field_that_is_set_is_refused_not_dropped() -> None:
    unknown = ld(999, vi(1, 1000))  # no PodSpec field has this number
    raw = ld(2, ld(3, ld(2, unknown)))
    with pytest.raises(DecodeError) as info:
        decode(envelope("apps/v1", "Deployment", raw))
    assert info.value.code == 415
    assert info.value.detail == "protobuf field 999 of PodSpec is not supported"
    assert (info.value.api_version, info.value.kind) == ("apps/v1", "Deployment")


# --- the envelope ----------------------------------------------------------------------------

def test_envelope_defaults_and_missing_type_meta() -> None:
    bare = protobuf.MAGIC + ld(2, ld(1, ld(1, "x")))
    assert decode(bare, ("v1", "Namespace")) == {
        "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "x"}}
    with pytest.raises(DecodeError) as info:
        decode(bare)
    assert info.value.message == """Object 'Kind' is missing in 'runtime.TypeMeta{APIVersion:"", Kind:""}'"""
    no_version = protobuf.MAGIC + ld(1, ld(2, "Namespace"))
    with pytest.raises(DecodeError, match="Object 'apiVersion' is missing in 'runtime.TypeMeta"):
        decode(no_version)
    # The envelope's own TypeMeta wins over the endpoint's default.
    assert decode(envelope("v1", "Secret", b""), ("v1", "ConfigMap"))["kind"] == "Secret"
    # contentEncoding, contentType and unknown envelope fields are ignored.
    extra = envelope("v1", "Secret", b"") + ld(3, "") + ld(4, "application/vnd.kubernetes.protobuf")
    assert decode(extra + ld(9, "x")) == {"kind": "Secret", "apiVersion": "v1"}
    future_type_meta = protobuf.MAGIC + ld(1, ld(1, "v1") + ld(2, "Secret") + vi(3, 7))
    assert decode(future_type_meta) == {"kind": "Secret", "apiVersion": "v1"}


def test_unknown_kind_is_415_with_kube_wording() -> None:
    with pytest.raises(DecodeError) as info:
        decode(envelope("batch/v1", "Job", ld(1, ld(1, "j"))))
    assert info.value.code == 415
    assert info.value.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml")
    assert (info.value.api_version, info.value.kind) == ("batch/v1", "Job")


@pytest.mark.parametrize("kinds", [None, {}, {("v1", "Secret"): KINDS[("v1", "Secret")]}])
def test_a_kind_is_read_only_where_declared(kinds: Kinds | None) -> None:
    """No registry outside the caller's kinds: a ConfigMap nobody handed in is 415, as any kind."""
    body = envelope("v1", "ConfigMap", ld(1, ld(1, "cm")))
    with pytest.raises(DecodeError) as info:
        protobuf.decode(body, None, kinds)
    assert (info.value.code, info.value.kind) == (415, "ConfigMap")
    assert protobuf.decode(body, None, KINDS)["metadata"] == {"name": "cm"}


META = b"\x0a"  # ConfigMap field 1 (metadata), length-delimited tag
CASES = [
    # (name, whole body, exact message)
    ("wrong magic", b"k8s\x01" + ld(1, b""), "provided data does not appear to be a protobuf "
                                             "message, expected prefix [107 56 115 0]"),
    ("empty", b"", "provided data does not appear to be a protobuf message, expected prefix "
                   "[107 56 115 0]"),
    ("json", b'{"kind":"Namespace"}', "provided data does not appear to be a protobuf message, "
                                      "expected prefix [107 56 115 0]"),
    ("truncated tag", protobuf.MAGIC + b"\x8a", "unexpected EOF"),
    ("truncated length", protobuf.MAGIC + b"\x0a", "unexpected EOF"),
    ("length past end", protobuf.MAGIC + b"\x0a\x05ab", "unexpected EOF"),
    ("varint overflow", protobuf.MAGIC + b"\x08" + b"\xff" * 10 + b"\x01", "proto: integer overflow"),
    ("negative length", protobuf.MAGIC + b"\x0a" + varint(1 << 63), "proto: negative length found "
                                                                    "during unmarshaling"),
    ("envelope wire type", protobuf.MAGIC + vi(1, 1), "proto: wrong wireType = 0 for field TypeMeta"),
    ("type meta wire type", protobuf.MAGIC + ld(1, vi(2, 1)), "proto: wrong wireType = 0 for field Kind"),
    ("raw wire type", protobuf.MAGIC + tag(2, 5) + bytes(4), "proto: wrong wireType = 5 for field Raw"),
    ("end group", protobuf.MAGIC + b"\x0c", "proto: Unknown: wiretype end group for non-group"),
    ("illegal tag", protobuf.MAGIC + b"\x02\x00", "proto: Unknown: illegal tag 0 (wire type 2)"),
    ("illegal wire type", protobuf.MAGIC + b"\x0e", "proto: illegal wireType 6"),
    ("unterminated group", protobuf.MAGIC + tag(9, 3) + vi(1, 1), "unexpected EOF"),
    ("truncated fixed32", protobuf.MAGIC + tag(9, 5) + b"\x01\x02", "unexpected EOF"),
    ("truncated fixed64", protobuf.MAGIC + tag(9, 1) + b"\x01" * 7, "unexpected EOF"),
]
RAW_CASES = [
    # (name, ConfigMap raw message, exact message)
    ("field wire type", ld(1, vi(1, 1)), "proto: wrong wireType = 0 for field Name"),
    ("message wire type", vi(1, 1), "proto: wrong wireType = 0 for field Metadata"),
    ("bool as string", ld(4, "true"), "proto: wrong wireType = 2 for field Immutable"),
    ("nested end group", ld(1, b"\x0c"), "proto: ObjectMeta: wiretype end group for non-group"),
    ("nested truncation", META + b"\x04" + ld(1, "abcdef"), "unexpected EOF"),
    ("map key wire type", ld(2, vi(1, 1)), "proto: wrong wireType = 0 for field key"),
    ("map entry truncated", ld(2, b"\x0a\x09abc"), "unexpected EOF"),
    ("known field as group", tag(1, 3) + tag(1, 4), "proto: wrong wireType = 3 for field Metadata"),
    ("bad fieldsV1 json", ld(1, ld(17, ld(7, ld(1, b"{")))), "invalid JSON in protobuf field: "
                                                            "Input data was truncated"),
]


@pytest.mark.parametrize(("name", "body", "message"), CASES, ids=[c[0] for c in CASES])
def test_malformed_envelope(name: str, body: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(body)
    assert (info.value.code, info.value.message) == (400, message)


@pytest.mark.parametrize(("name", "raw", "message"), RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_malformed_object(name: str, raw: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(envelope("v1", "ConfigMap", raw))
    assert (info.value.code, info.value.message) == (400, message)
    assert (info.value.api_version, info.value.kind) == ("v1", "ConfigMap")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    groups = tag(9, 3) * 10_000
    with pytest.raises(DecodeError, match="groups nested too deeply"):
        decode(protobuf.MAGIC + groups)


def test_truncations_and_corruptions_only_ever_raise_decode_error() -> None:
    rng = random.Random(1)
    bodies = [bytes.fromhex(f["hex"]) for f in FIXTURES.values()]
    for body in bodies:
        for cut in range(len(body)):
            try:
                decode(body[:cut])
            except DecodeError:
                pass
        for _ in range(300):
            mutated = bytearray(body)
            for _ in range(rng.randint(1, 4)):
                mutated[rng.randrange(4, len(body))] = rng.randrange(256)
            try:
                decode(bytes(mutated))
            except DecodeError:
                pass
