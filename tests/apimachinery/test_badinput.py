"""Decoders, warning headers and query parsing against hostile input (units behind
tests/e2e/test_rest_badinput.py)."""

from __future__ import annotations

import json

import pytest
from pbkinds import KINDS
from pbwire import envelope, ld

from kernel.apimachinery.codecs import PROTOBUF, YAML, decode_body, parse_json, parse_yaml
from kernel.apimachinery.depth import MAX_DEPTH, json_depth, may_exceed
from kernel.apimachinery.queryparams import parse_int64, parse_uint64
from kernel.apimachinery.status import StatusError
from kernel.apimachinery.warningheader import ITEM_LIMIT, TOTAL_LIMIT, warning_headers


def nested_json(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def refused(fn, *args) -> str:
    with pytest.raises(StatusError) as info:
        fn(*args)
    assert info.value.code == 400
    return info.value.message


def test_json_depth_limit_is_exact() -> None:
    assert json_depth(parse_json(nested_json(MAX_DEPTH))) == MAX_DEPTH
    assert refused(parse_json, nested_json(MAX_DEPTH + 1)) == f"exceeded max depth of {MAX_DEPTH}"
    assert not may_exceed(b'{"metadata": {"name": "x"}, "data": {"a": "b"}}')


def test_yaml_depth_limit_counts_expanded_aliases() -> None:
    inner = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert json_depth(parse_yaml(f"a: &x {inner}\n".encode())) == MAX_DEPTH
    # each part fits; the alias puts one inside the other
    body = f"a: &x {inner}\nb: [[*x]]\n".encode()
    assert refused(parse_yaml, body) == f"yaml: exceeded max depth of {MAX_DEPTH}"


def test_protobuf_raw_json_is_held_to_the_depth_limit() -> None:
    def body(depth: int) -> bytes:
        fields_v1 = nested_json(depth - 4)  # object, metadata, managedFields, entry
        return envelope("v1", "ConfigMap", ld(1, ld(1, "pb") + ld(17, ld(7, ld(1, fields_v1)))))

    gvk = ("v1", "ConfigMap")
    assert json_depth(decode_body(PROTOBUF, body(MAX_DEPTH), gvk, KINDS)) == MAX_DEPTH
    message = refused(decode_body, PROTOBUF, body(MAX_DEPTH + 1), gvk, KINDS)
    assert message.startswith('ConfigMap in version "v1" cannot be handled as a ConfigMap: exceeded max depth'), message


def laughs(levels: int, width: int = 9) -> bytes:
    lines = ["a0: &a0 [" + ",".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]")
    return ("\n".join(lines) + "\n").encode()


def test_alias_expansion_follows_go_yamls_allowance() -> None:
    # 9^4 = 6561 strings from ~150 bytes: over 99% aliases in a document over 1000 nodes
    assert refused(parse_yaml, laughs(5)) == "yaml: document contains excessive aliasing"
    # the same shape, small enough to stay under go-yaml's thresholds, is expanded
    assert len(parse_yaml(laughs(3))["a2"]) == 9


def test_yaml_self_reference_names_the_anchor() -> None:
    assert refused(parse_yaml, b"x: !!seq &loop [1, *loop]") == "yaml: anchor 'loop' value contains itself"


@pytest.mark.parametrize(("text", "value"), [
    ("1" * 5000, "1" * 5000),  # more than float64 holds: a string
    ("123456789012345678901234567890", 1.2345678901234568e29),  # past uint64: a float
    ("18446744073709551615", 18446744073709551615),  # uint64 max stays an integer
    ("-9223372036854775808", -9223372036854775808),
    ("0x" + "f" * 40, "0x" + "f" * 40),
])
def test_yaml_integers_resolve_as_go_yaml_resolves_them(text: str, value) -> None:
    assert parse_yaml(f"k: {text}".encode()) == {"k": value}


def test_lone_surrogates_are_replaced_in_keys_and_values() -> None:
    assert parse_json(b'{"\\ud800k": ["\\udfff", "\\ud83d\\ude00"]}') == {"\ufffdk": ["\ufffd", "\U0001F600"]}


def test_warning_headers_drop_control_characters_and_quote() -> None:
    assert warning_headers(['a "quoted" \\ text', "a\nb", "bell\x07", "del\x7f", "ok", "ok"]) == [
        (b"warning", b'299 - "a \\"quoted\\" \\\\ text"'), (b"warning", b'299 - "ok"')]
    assert warning_headers(["caf\u00e9"]) == [(b"warning", '299 - "caf\u00e9"'.encode())]


def test_warning_headers_are_truncated_as_kube_truncates_them() -> None:
    texts = [f"{i:02d}" + "x" * 998 for i in range(30)]  # 30000 characters in all
    headers = warning_headers(texts)
    # past 4096 characters every warning is cut to 256, until the (cut) total is reached again
    assert len(headers) == TOTAL_LIMIT // ITEM_LIMIT
    assert all(len(value) == len('299 - ""') + ITEM_LIMIT for _, value in headers)
    assert warning_headers(texts[:4]) == [(b"warning", f'299 - "{t}"'.encode()) for t in texts[:4]]


@pytest.mark.parametrize(("text", "error"), [
    (" 1", "invalid syntax"), ("1_0", "invalid syntax"), ("0x10", "invalid syntax"), ("", "invalid syntax"),
    ("9223372036854775808", "value out of range"), ("9" * 5000, "value out of range"),
])
def test_int64_parameters_parse_as_strconv(text: str, error: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_int64(text)
    assert str(info.value) == f"strconv.ParseInt: parsing {json.dumps(text)}: {error}"


def test_int_parsers_accept_what_strconv_accepts() -> None:
    assert parse_int64("+5") == 5 and parse_int64("-9223372036854775808") == -(1 << 63)
    assert parse_uint64("18446744073709551615") == (1 << 64) - 1
    with pytest.raises(ValueError, match="invalid syntax"):
        parse_uint64("+1")


def test_yaml_media_type_is_accepted_through_decode_body() -> None:
    assert decode_body(YAML, b"kind: ConfigMap\napiVersion: v1\n") == {"kind": "ConfigMap", "apiVersion": "v1"}
