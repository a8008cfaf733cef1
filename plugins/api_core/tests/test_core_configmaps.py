"""ConfigMap strategy: key names, the 1 MiB limit and immutability, with kube's messages."""

from __future__ import annotations

import base64
import copy

from kernel_api_core.configmaps import configmap_spec

STRATEGY = configmap_spec.strategy
KEY_MESSAGE = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
               "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")


def _cm(**fields) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, **fields}


def test_valid_keys_pass() -> None:
    obj = _cm(data={"key.name": "x", "KEY_NAME": "", "key-name": "y", ".hidden": "z"},
              binaryData={"bin": base64.b64encode(b"\x00").decode()})
    STRATEGY.prepare_for_create(obj)
    assert STRATEGY.validate(obj) == []


def test_invalid_keys_are_reported_with_kubes_message() -> None:
    errors = STRATEGY.validate(_cm(data={"a b": "1"}, binaryData={"..": "AA=="}))
    assert [str(e) for e in errors] == [
        f'data[a b]: Invalid value: "a b": {KEY_MESSAGE}',
        "binaryData[..]: Invalid value: \"..\": must not be '..'",
    ]
    assert errors[0].cause() == {"reason": "FieldValueInvalid", "field": "data[a b]",
                                 "message": f'Invalid value: "a b": {KEY_MESSAGE}'}


def test_key_rules_for_dots_and_length() -> None:
    messages = [str(e) for e in STRATEGY.validate(_cm(data={".": "", "..x": "", "k" * 254: ""}))]
    assert messages == [
        "data[.]: Invalid value: \".\": must not be '.'",
        "data[..x]: Invalid value: \"..x\": must not start with '..'",
        f'data[{"k" * 254}]: Invalid value: "{"k" * 254}": must be no more than 253 characters',
    ]
    assert [str(e) for e in STRATEGY.validate(_cm(data={"": "x"}))] == [
        f'data[]: Invalid value: "": {KEY_MESSAGE}']


def test_a_key_in_both_data_and_binary_data() -> None:
    (error,) = STRATEGY.validate(_cm(data={"k": "v"}, binaryData={"k": "AA=="}))
    assert str(error) == 'data[k]: Invalid value: "k": duplicate of key present in binaryData'


def test_total_size_limit_counts_text_and_decoded_bytes() -> None:
    half = 512 * 1024
    at_limit = _cm(data={"a": "x" * half}, binaryData={"b": base64.b64encode(b"\x01" * half).decode()})
    assert STRATEGY.validate(at_limit) == []
    over = _cm(data={"a": "x" * half}, binaryData={"b": base64.b64encode(b"\x01" * (half + 1)).decode()})
    (error,) = STRATEGY.validate(over)
    assert error.type == "FieldValueTooLong" and error.field == ""
    assert str(error) == ": Too long: must have at most 1048576 bytes"
    # multi-byte characters count in bytes, as Go's len()
    (error,) = STRATEGY.validate(_cm(data={"a": "é" * (half + 1)}))
    assert error.type == "FieldValueTooLong"


def test_immutable_configmap_forbids_data_changes() -> None:
    old = _cm(data={"a": "1"}, binaryData={"b": "AA=="}, immutable=True)
    new = copy.deepcopy(old)
    new["data"] = {"a": "2"}
    new["binaryData"] = {}
    new["immutable"] = False
    assert [str(e) for e in STRATEGY.validate_update(new, old)] == [
        "immutable: Forbidden: field is immutable when `immutable` is set",
        "data: Forbidden: field is immutable when `immutable` is set",
        "binaryData: Forbidden: field is immutable when `immutable` is set",
    ]


def test_immutable_configmap_allows_metadata_changes() -> None:
    old = _cm(data={"a": "1"}, immutable=True)
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"x": "y"}
    assert STRATEGY.validate_update(new, old) == []
    # absent and empty data are the same stored object
    assert STRATEGY.validate_update(_cm(immutable=True, data={}), _cm(immutable=True)) == []


def test_mutable_configmap_may_change_and_become_immutable() -> None:
    old = _cm(data={"a": "1"})
    new = _cm(data={"a": "2"}, immutable=True)
    assert STRATEGY.validate_update(new, old) == []
    (error,) = STRATEGY.validate_update(_cm(data={"a b": "1"}), old)  # update validates the new object too
    assert error.field == "data[a b]"


def test_configmaps_have_no_defaults_or_extra_selectors() -> None:
    obj = _cm(data={"a": "1"})
    before = copy.deepcopy(obj)
    STRATEGY.prepare_for_create(obj)
    STRATEGY.prepare_for_update(obj, before)
    assert obj == before
    assert STRATEGY.field_selectors(obj) == {}
