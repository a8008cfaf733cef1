"""The stored form of an object, shared by backends: JSON without ``metadata.resourceVersion``.

The resourceVersion is the backend's revision of the key, set when an object is read back (what
kube's versioner does), so equal content encodes to equal bytes and a no-op update is detectable
by comparing them.
"""

from __future__ import annotations

import msgspec

from kernel.storage.interface import Object

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def exact(data: bytes) -> bytes:
    """``data`` in a bytes object of its own size. msgspec returns its growing output buffer
    with the length set but not shrunk (up to 1.5x the length): bytes kept per stored object
    are copied once so the slack is not kept with them."""
    return bytes(memoryview(data))


def encode(obj: Object) -> bytes:
    """The stored form of ``obj``."""
    if not isinstance(obj, dict):
        raise TypeError(f"a stored object must be a dict, not {type(obj).__name__}")
    metadata = obj.get("metadata")
    if metadata is None:
        obj = {**obj, "metadata": {}}
    elif not isinstance(metadata, dict):
        raise TypeError("metadata must be a dict")
    elif "resourceVersion" in metadata:
        obj = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "resourceVersion"}}
    return exact(_encode(obj))


def decode(data: bytes, revision: int) -> Object:
    """A private copy of a stored object, with its resourceVersion.

    Raises msgspec.DecodeError, TypeError or KeyError for bytes that are not a stored object.
    """
    obj = _decode(data)
    obj["metadata"]["resourceVersion"] = str(revision)
    return obj
