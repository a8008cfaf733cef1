"""What the memory store keeps: versions, the change log, and the stored (JSON bytes) form."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from kernel.storage.codec import decode as load
from kernel.storage.interface import EventType, WatchEvent


class Version(msgspec.Struct):
    revision: int
    data: bytes | None  # None: the key was deleted at this revision (a tombstone)


def versions_of(kept: Version | list[Version] | None) -> Sequence[Version]:
    """A key's versions, oldest first, from what the store keeps for it (see MemoryStorage)."""
    if kept is None:
        return ()
    return (kept,) if type(kept) is Version else kept


def with_version(kept: Version | list[Version] | None, version: Version) -> Version | list[Version]:
    """What the store keeps for a key once ``version`` is added to ``kept`` (a list grows in
    place; a single Version becomes a list of two)."""
    if kept is None:
        return version
    if type(kept) is Version:
        return [kept, version]
    kept.append(version)
    return kept


class Change(msgspec.Struct):
    revision: int
    key: str
    data: bytes | None  # None: a deletion
    prev: Version | None  # the version this change replaced; None when the key was absent


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

