"""What goes into etcd: keys under --etcd-prefix, and objects as JSON without resourceVersion.

Kernel keys always start with ``/registry/`` (:data:`kernel.storage.keys.DEFAULT_ROOT`); the
backend swaps that root for the configured prefix on the way in and back on the way out, so the
rest of the kernel never knows the prefix. Continue tokens hold keys relative to the listed
prefix, so they do not depend on it either.

Values are the object's JSON without ``metadata.resourceVersion``, which is etcd's mod revision
of the key and is set when decoding (what kube does with its versioner).
"""

from __future__ import annotations

from typing import Any

import msgspec

from kernel.storage import codec as stored
from kernel.storage.errors import StorageError
from kernel.storage.interface import EventType, Object, WatchEvent
from kernel.storage.keys import DEFAULT_ROOT



class Keys:
    """Kernel keys ↔ etcd keys for one key root (the normalized --etcd-prefix)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._kernel_root = len(DEFAULT_ROOT)
        self._etcd_root = len(root.encode())

    def to_etcd(self, key: str) -> bytes:
        if not key.startswith(DEFAULT_ROOT + "/"):
            raise ValueError(f"storage key {key!r} is not under {DEFAULT_ROOT}/")
        return (self.root + key[self._kernel_root:]).encode()

    def to_kernel(self, key: bytes) -> str:
        return DEFAULT_ROOT + key[self._etcd_root:].decode()

    @staticmethod
    def range_end(key: bytes) -> bytes:
        """etcd's range end for every key starting with ``key`` (clientv3's GetPrefixRangeEnd:
        the prefix with its last byte below 0xff incremented and what follows it dropped)."""
        stripped = key.rstrip(b"\xff")
        return stripped[:-1] + bytes([stripped[-1] + 1]) if stripped else b"\0"

    @property
    def health_key(self) -> bytes:
        return (self.root + "/health").encode()


encode = stored.encode


def decode(key: str, value: bytes, revision: int) -> Object:
    """A private copy of a stored object with its resourceVersion."""
    try:
        obj = stored.decode(value, revision)
    except (msgspec.DecodeError, TypeError, KeyError) as error:
        raise StorageError(key, f"the object stored at {key} cannot be decoded: {error}") from None
    return obj


def encoded(keys: Keys, kv: Any) -> msgspec.Raw:
    """The JSON of an etcd key-value as ``decode`` would give it, mostly without decoding it
    (lists)."""
    try:
        return msgspec.Raw(stored.with_revision(kv.value, kv.mod_revision))
    except (msgspec.DecodeError, TypeError, KeyError) as error:
        key = keys.to_kernel(kv.key)
        raise StorageError(key, f"the object stored at {key} cannot be decoded: {error}") from None


def event(key: str, raw: Any) -> WatchEvent:
    """The WatchEvent of one etcd ``mvccpb.Event`` (watched with prev_kv)."""
    kv = raw.kv
    revision = kv.mod_revision
    has_prev = raw.HasField("prev_kv")
    prev = decode(key, raw.prev_kv.value, raw.prev_kv.mod_revision) if has_prev else None
    if raw.type == 1:  # DELETE
        if prev is None:
            raise StorageError(key, f"etcd sent a deletion of {key} at revision {revision} "
                                    "without the previous value")
        deleted = {**prev, "metadata": {**prev["metadata"], "resourceVersion": str(revision)}}
        return WatchEvent("DELETED", deleted, prev, revision, key)
    kind: EventType = "ADDED" if kv.create_revision == revision else "MODIFIED"
    return WatchEvent(kind, decode(key, kv.value, revision), prev, revision, key)
