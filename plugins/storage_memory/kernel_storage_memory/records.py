"""What the memory store keeps: versions, the change log, and the stored (JSON bytes) form."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from kernel.storage.interface import EventType, Object, WatchEvent

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


@dataclass(slots=True)
class Version:
    revision: int
    data: bytes | None  # None: the key was deleted at this revision (a tombstone)


@dataclass(slots=True)
class Change:
    revision: int
    key: str
    data: bytes | None  # None: a deletion
    prev: Version | None  # the version this change replaced; None when the key was absent


def load(data: bytes, revision: int) -> Object:
    """A private copy of a stored object, with its resourceVersion."""
    obj = _decode(data)
    obj["metadata"]["resourceVersion"] = str(revision)
    return obj


def content(obj: Object) -> bytes:
    """The stored form of ``obj``: JSON without metadata.resourceVersion."""
    if not isinstance(obj, dict):
        raise TypeError(f"a stored object must be a dict, not {type(obj).__name__}")
    metadata = obj.get("metadata")
    if metadata is None:
        obj = {**obj, "metadata": {}}
    elif not isinstance(metadata, dict):
        raise TypeError("metadata must be a dict")
    elif "resourceVersion" in metadata:
        obj = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "resourceVersion"}}
    return _encode(obj)


def event_for(change: Change) -> WatchEvent:
    """The unfiltered WatchEvent of one change (fresh objects for each watcher)."""
    revision, prev = change.revision, change.prev
    prev_obj = None if prev is None else load(prev.data, prev.revision)  # type: ignore[arg-type]
    if change.data is None:
        assert prev_obj is not None
        deleted = {**prev_obj, "metadata": {**prev_obj["metadata"],
                                            "resourceVersion": str(revision)}}
        return WatchEvent("DELETED", deleted, prev_obj, revision, change.key)
    kind: EventType = "ADDED" if prev is None else "MODIFIED"
    return WatchEvent(kind, load(change.data, revision), prev_obj, revision, change.key)

