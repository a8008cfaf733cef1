"""Cross-check the hand-written decoder against Google's protobuf runtime as the encoder.

Descriptors are built at run time from the decoder's own schemas (no .proto, no protoc), objects
are filled from their JSON form and serialized by the real library, and decoding must give the
JSON form back. This checks the wire handling independently; the field numbers themselves are
checked by the bodies captured from kubectl (test_protobuf.py).
"""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.protobuf")
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402

from pbkinds import KINDS  # noqa: E402  (the plugin-declared schemas, and kinds not yet served)

from kernel.apimachinery.protobuf import MAGIC  # noqa: E402
from kernel.apimachinery.protobuf import decode as decode_with  # noqa: E402
from kernel.apimachinery.protobuf.schema import (BOOL, BYTES, INT32, INT64, INT_OR_STRING,  # noqa: E402
                                                 MAP, MESSAGE, MICROTIME, QUANTITY, RAW_JSON,
                                                 STRING, STRINGS, TIME, Field, Message)

FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {STRING: FDP.TYPE_STRING, BYTES: FDP.TYPE_BYTES, INT32: FDP.TYPE_INT32,
            INT64: FDP.TYPE_INT64, BOOL: FDP.TYPE_BOOL}
# kube's special messages, as proto schemas of their own.
_SPECIAL = {
    TIME: Message("Time", {1: Field("seconds", INT64), 2: Field("nanos", INT32)}),
    MICROTIME: Message("MicroTime", {1: Field("seconds", INT64), 2: Field("nanos", INT32)}),
    QUANTITY: Message("Quantity", {1: Field("string", STRING)}),
    INT_OR_STRING: Message("IntOrString", {1: Field("type", INT64), 2: Field("intVal", INT32),
                                           3: Field("strVal", STRING)}),
    STRINGS: Message("ExtraValue", {1: Field("items", STRING, repeated=True)}),
    RAW_JSON: Message("FieldsV1", {1: Field("raw", BYTES)}),
}


class Builder:
    """One proto2 file holding a message type per distinct schema object."""

    def __init__(self) -> None:
        self.file = descriptor_pb2.FileDescriptorProto(name="k.proto", package="k", syntax="proto2")
        self.names: dict[int, str] = {}

    def add(self, schema: Message) -> str:
        if id(schema) in self.names:
            return self.names[id(schema)]
        name = f"{schema.name}{len(self.names)}"
        self.names[id(schema)] = name
        proto = self.file.message_type.add(name=name)
        for number, f in schema.resolved().items():
            self._field(proto, number, f)
        return name

    def _field(self, proto: Any, number: int, f: Field) -> None:
        label = FDP.LABEL_REPEATED if f.repeated or f.kind == MAP else FDP.LABEL_OPTIONAL
        field = proto.field.add(name=f.name, number=number, label=label)
        if f.kind in _SCALARS:
            field.type = _SCALARS[f.kind]
        elif f.kind == MAP:
            entry = proto.nested_type.add(name=f.name[0].upper() + f.name[1:] + "Entry")
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, label=FDP.LABEL_OPTIONAL, type=FDP.TYPE_STRING)
            value = entry.field.add(name="value", number=2, label=FDP.LABEL_OPTIONAL)
            if f.value in _SCALARS:
                value.type = _SCALARS[f.value]
            else:
                value.type = FDP.TYPE_MESSAGE
                value.type_name = ".k." + self.add(f.message or _SPECIAL[f.value])
            field.type, field.type_name = FDP.TYPE_MESSAGE, f".k.{proto.name}.{entry.name}"
        else:
            field.type = FDP.TYPE_MESSAGE
            field.type_name = ".k." + self.add(f.message or _SPECIAL[f.kind])


BUILDER = Builder()
TYPE_META = Message("TypeMeta", {1: Field("apiVersion", STRING), 2: Field("kind", STRING)})
UNKNOWN = Message("Unknown", {1: Field("typeMeta", MESSAGE, TYPE_META), 2: Field("raw", BYTES)})
NAMES = {key: BUILDER.add(schema) for key, schema in KINDS.items()}
UNKNOWN_NAME = BUILDER.add(UNKNOWN)
POOL = descriptor_pool.DescriptorPool()
POOL.Add(BUILDER.file)


def message_class(name: str) -> Any:
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(f"k.{name}"))


def fill(msg: Any, schema: Message, obj: dict[str, Any]) -> None:
    """Set the proto message from the object's JSON form (the inverse of the decoder)."""
    by_name = {f.name: f for f in schema.resolved().values()}
    for key, value in obj.items():
        f = by_name[key]
        if f.kind == MAP:
            target = getattr(msg, key)
            for k, v in value.items():
                if f.value in (MESSAGE, QUANTITY, STRINGS):
                    special(target[k], f.value, v, f.message)
                else:
                    target[k] = base64.b64decode(v) if f.value == BYTES else v
        elif f.repeated and f.kind == MESSAGE:
            for item in value:
                assert f.message is not None
                fill(getattr(msg, key).add(), f.message, item)
        elif f.repeated:
            getattr(msg, key).extend(value)
        elif f.kind in _SCALARS:
            setattr(msg, key, base64.b64decode(value) if f.kind == BYTES else value)
        else:
            special(getattr(msg, key), f.kind, value, f.message)


def special(msg: Any, kind: str, value: Any, schema: Message | None) -> None:
    if kind == MESSAGE:
        assert schema is not None
        msg.SetInParent()  # present even when empty, as gogo sends non-pointer structs
        fill(msg, schema, value)
    elif kind == TIME:
        when = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        msg.seconds = int(when.replace(tzinfo=datetime.timezone.utc).timestamp())
    elif kind == QUANTITY:
        msg.string = value
    elif kind == STRINGS:
        msg.items.extend(value)
    elif kind == RAW_JSON:
        msg.raw = json.dumps(value).encode()
    elif kind == INT_OR_STRING:
        if isinstance(value, str):
            msg.type, msg.strVal = 1, value
        else:
            msg.intVal = value


def encode(obj: dict[str, Any]) -> bytes:
    key = (obj["apiVersion"], obj["kind"])
    inner = message_class(NAMES[key])()
    fill(inner, KINDS[key], {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")})
    outer = message_class(UNKNOWN_NAME)()
    outer.typeMeta.apiVersion, outer.typeMeta.kind = key
    outer.raw = inner.SerializeToString()
    return MAGIC + outer.SerializeToString()


def decode(body: bytes) -> dict[str, Any]:
    return decode_with(body, None, KINDS)


FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "kubectl_bodies.json").read_text())


def _without_nulls(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _without_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_without_nulls(v) for v in obj]
    return obj


OBJECTS = [_without_nulls(f["json"]) for f in FIXTURES.values() if "json" in f] + [
    {"apiVersion": "v1", "kind": "ConfigMap",
     "metadata": {"name": "ü-名", "namespace": "ns", "generation": -7, "resourceVersion": "9",
                  "creationTimestamp": "2024-01-02T03:04:05Z", "deletionGracePeriodSeconds": 0,
                  "labels": {"a": "b", "": "empty-key"}, "finalizers": ["f", ""],
                  "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p",
                                       "uid": "u", "controller": False}],
                  "managedFields": [{"manager": "m", "fieldsV1": {"f:data": {"f:a": {}}}}]},
     "data": {"big": "x" * 70000}, "binaryData": {"b": base64.b64encode(bytes(range(256))).decode()},
     "immutable": True},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {
        "replicas": -2147483648, "progressDeadlineSeconds": 2147483647,
        "strategy": {"rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 0}},
        "template": {"spec": {"terminationGracePeriodSeconds": -1, "containers": [{
            "name": "c", "resources": {"limits": {"cpu": "1"}},
            "env": [{"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]}}},
     "status": {"observedGeneration": 9223372036854775807, "collisionCount": 0}},
    {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": "u", "groups": ["g1", "g2"], "extra": {"scopes": ["a", "b"], "none": []},
        "resourceAttributes": {"verb": "list", "resource": "pods", "labelSelector": {
            "requirements": [{"key": "app", "operator": "Exists"}]}}}},
    {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
        "audiences": ["x"], "boundObjectRef": {"kind": "Pod", "name": "p", "uid": "u"}},
     "status": {"token": "t", "expirationTimestamp": "2030-01-01T00:00:00Z"}},
]


@pytest.mark.parametrize("obj", OBJECTS, ids=[f'{o["kind"]}-{i}' for i, o in enumerate(OBJECTS)])
def test_real_encoder_round_trip(obj: dict[str, Any]) -> None:
    assert decode(encode(obj)) == obj
