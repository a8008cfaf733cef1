"""Secret strategy: stringData, the Opaque default, type rules and immutability, with kube's messages."""

from __future__ import annotations

import base64

import pytest

from kernel_api_core.secrets import secret_spec

STRATEGY = secret_spec.strategy


def b64(value: bytes | str) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


def _secret(**fields) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, **fields}


def test_string_data_is_merged_into_data_and_dropped() -> None:
    obj = _secret(data={"a": b64("old"), "b": b64("keep")}, stringData={"a": "new", "c": "ünï"})
    STRATEGY.prepare_for_create(obj)
    assert "stringData" not in obj
    assert obj["data"] == {"a": b64("new"), "b": b64("keep"), "c": b64("ünï")}
    assert obj["type"] == "Opaque"


def test_string_data_alone_creates_data() -> None:
    obj = _secret(stringData={"password": "s3cret"})
    STRATEGY.prepare_for_update(obj, _secret(type="Opaque"))
    assert obj["data"] == {"password": b64("s3cret")} and "stringData" not in obj


def test_type_defaults_to_opaque_and_is_kept_when_set() -> None:
    obj = _secret(type="")
    STRATEGY.prepare_for_create(obj)
    assert obj["type"] == "Opaque"
    tls = _secret(type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": ""})
    STRATEGY.prepare_for_create(tls)
    assert tls["type"] == "kubernetes.io/tls"


def test_type_is_immutable() -> None:
    old = _secret(type="Opaque")
    new = _secret(type="example.com/custom")
    STRATEGY.prepare_for_update(new, old)
    (error,) = STRATEGY.validate_update(new, old)
    assert str(error) == 'type: Invalid value: "example.com/custom": field is immutable'
    # an update that leaves type out gets the Opaque default, which changes a TLS secret's type
    old_tls = _secret(type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": ""})
    new_tls = _secret(data={"tls.crt": "", "tls.key": ""})
    STRATEGY.prepare_for_update(new_tls, old_tls)
    assert [e.field for e in STRATEGY.validate_update(new_tls, old_tls)] == ["type"]


def test_immutable_secret_forbids_data_changes_including_through_string_data() -> None:
    old = _secret(type="Opaque", data={"a": b64("1")}, immutable=True)
    new = _secret(type="Opaque", data={"a": b64("1")}, stringData={"a": "2"}, immutable=True)
    STRATEGY.prepare_for_update(new, old)
    assert [str(e) for e in STRATEGY.validate_update(new, old)] == [
        "data: Forbidden: field is immutable when `immutable` is set"]
    unset = _secret(type="Opaque", data={"a": b64("1")})
    assert [str(e) for e in STRATEGY.validate_update(unset, old)] == [
        "immutable: Forbidden: field is immutable when `immutable` is set"]


def test_immutable_secret_compares_decoded_bytes() -> None:
    old = _secret(type="Opaque", data={"a": "aGVsbG8="}, immutable=True)
    new = _secret(type="Opaque", data={"a": "aGVs\nbG8="}, immutable=True)  # same bytes, other text
    assert STRATEGY.validate_update(new, old) == []


def test_data_keys_and_size() -> None:
    (error,) = STRATEGY.validate(_secret(type="Opaque", data={"a/b": ""}))
    assert error.field == "data[a/b]" and error.type == "FieldValueInvalid"
    assert STRATEGY.validate(_secret(type="Opaque", data={"a": b64(b"\x00" * (1024 * 1024))})) == []
    (error,) = STRATEGY.validate(_secret(type="Opaque", data={"a": b64(b"\x00" * (1024 * 1024 + 1))}))
    assert str(error) == "data: Too long: must have at most 1048576 bytes"


@pytest.mark.parametrize(("secret_type", "data", "annotations", "expected"), [
    ("kubernetes.io/service-account-token", {}, {},
     ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
    ("kubernetes.io/service-account-token", {}, {"kubernetes.io/service-account.name": "default"}, []),
    ("kubernetes.io/dockercfg", {}, {}, ["data[.dockercfg]: Required value"]),
    ("kubernetes.io/dockercfg", {".dockercfg": b64("{}")}, {}, []),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64("{nope")}, {},
     ['data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": '
      "invalid character 'n' looking for beginning of value"]),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64("[]")}, {},
     ['data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": '
      "json: cannot unmarshal array into Go value of type map[string]interface {}"]),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64("")}, {},
     ['data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input']),
    ("kubernetes.io/basic-auth", {}, {}, ["data[username]: Required value", "data[password]: Required value"]),
    ("kubernetes.io/basic-auth", {"password": ""}, {}, []),
    ("kubernetes.io/ssh-auth", {"ssh-privatekey": ""}, {}, ["data[ssh-privatekey]: Required value"]),
    ("kubernetes.io/ssh-auth", {"ssh-privatekey": b64("key")}, {}, []),
    ("kubernetes.io/tls", {"tls.key": ""}, {}, ["data[tls.crt]: Required value"]),
    ("kubernetes.io/tls", {}, {}, ["data[tls.crt]: Required value", "data[tls.key]: Required value"]),
    ("example.com/anything", {}, {}, []),
    ("Opaque", {}, {}, []),
])
def test_type_specific_rules(secret_type: str, data: dict, annotations: dict, expected: list[str]) -> None:
    obj = _secret(type=secret_type, data=data)
    obj["metadata"]["annotations"] = annotations
    assert [str(e) for e in STRATEGY.validate(obj)] == expected


def test_type_field_selector() -> None:
    assert STRATEGY.field_selectors(_secret(type="kubernetes.io/tls")) == {"type": "kubernetes.io/tls"}
    assert STRATEGY.allow_create_on_update is False
