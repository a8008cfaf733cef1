"""The stored form keeps no slack: bytes held per stored object are exactly their length."""

from __future__ import annotations

import sys

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
