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


class _Stored(msgspec.Struct):
    """Only the top-level metadata of a stored object, as its raw JSON (the rest is skipped)."""

    metadata: msgspec.Raw


_stored = msgspec.json.Decoder(_Stored).decode
_METADATA = b'"metadata"'
_RESOURCE_VERSION = b'"resourceVersion"'


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


def with_revision(data: bytes, revision: int) -> bytes:
    """The JSON of ``decode(data, revision)``, made without decoding ``data`` when it can be.

    Lists and the watch cache's initial list take one per object (100k ConfigMaps: decoding
    each into dicts and encoding it again costs ~20 us apiece, this ~2). The resourceVersion
    goes in at the end of the top-level metadata, where ``decode`` appends it. That place is
    found only when it is certain: ``"metadata"`` occurs once in the whole text (a raw quote
    is always a string delimiter in JSON, so that one is the top-level key msgspec just read),
    directly followed by ``:`` and the metadata's bytes, which hold no resourceVersion yet.
    Anything else (a Deployment's pod template has a metadata of its own) takes the decode.
    """
    try:
        metadata = _stored(data).metadata
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise TypeError(f"not a stored object: {error}") from None
    if data.count(_METADATA) == 1:
        start = data.find(_METADATA) + len(_METADATA) + 1  # the metadata's opening brace
        end = start + len(metadata) - 1  # its closing brace
        if data[start - 1:start] == b":" and data.startswith(bytes(metadata), start) and \
                data[start:start + 1] == b"{" and data.find(_RESOURCE_VERSION, start, end) < 0:
            comma = b"" if end == start + 1 else b","
            view = memoryview(data)  # no copies of the two halves on the way
            return b'%b%b"resourceVersion":"%d"%b' % (view[:end], comma, revision, view[end:])
    return exact(_encode(decode(data, revision)))
