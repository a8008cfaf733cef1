"""The stored form keeps no slack: bytes held per stored object are exactly their length."""

from __future__ import annotations

import sys

import msgspec
import pytest

from kernel.storage import codec

EMPTY_BYTES = sys.getsizeof(b"")


def configmap() -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "default", "resourceVersion": "7"},
            "data": {"config": "x" * 1024}}


def test_encode_returns_bytes_of_their_own_size() -> None:
    data = codec.encode(configmap())
    assert sys.getsizeof(data) == EMPTY_BYTES + len(data)
    assert b'"resourceVersion"' not in data
    assert codec.decode(data, 9)["metadata"]["resourceVersion"] == "9"


def test_exact_copies_the_content() -> None:
    data = b'{"a":1}'
    assert codec.exact(data) == data


@pytest.mark.parametrize("obj", [
    {"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n"}, "data": {"k": "v"}},
    {"metadata": {}},
    {"data": {"metadata": "x"}, "metadata": {"name": "a"}},  # "metadata" twice: decoded
    {"spec": {"template": {"metadata": {"name": "t"}}}, "metadata": {"name": "a"}},
    {"metadata": {"name": "a", "annotations": {"x": '"resourceVersion"'}}},
    {"metadata": {"name": 'a"metadata":{'}},
])
def test_with_revision_is_the_decoded_object_with_its_resource_version(obj) -> None:
    data = codec.encode(obj)
    spliced = codec.with_revision(data, 42)
    assert msgspec.json.decode(spliced) == codec.decode(data, 42)
    assert spliced == msgspec.json.encode(codec.decode(data, 42))  # the same bytes as well


@pytest.mark.parametrize("data", [b"not json", b'{"kind":"x"}', b'{"metadata":[]}'])
def test_with_revision_refuses_what_is_not_a_stored_object(data: bytes) -> None:
    with pytest.raises((TypeError, KeyError, msgspec.DecodeError)):
        codec.with_revision(data, 42)
