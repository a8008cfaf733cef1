"""ObjectMeta bookkeeping the server owns: uid, timestamps, generateName, resourceVersion."""

from __future__ import annotations

import os
import secrets
import time
from typing import Any

Object = dict[str, Any]

# kube's utilrand alphabet: no vowels (no words) and no confusable characters.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_GENERATED_SUFFIX = 5
_MAX_NAME = 63  # names.SimpleNameGenerator's maxNameLength: the prefix is cut to 58


_now_text: tuple[int, str] = (-1, "")  # (second, its RFC 3339 text): formatted once a second


def now_rfc3339() -> str:
    """The current UTC time to the second (metav1.Time's JSON form). Every create and update
    stamps it (creationTimestamp, managedFields), and datetime formatting costs several µs."""
    global _now_text
    second = int(time.time())
    if _now_text[0] != second:
        _now_text = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
    return _now_text[1]


_random_pool = b""  # os.urandom bytes not yet used by new_uid
_random_at = 0


def _forget_pool() -> None:
    global _random_pool, _random_at
    _random_pool, _random_at = b"", 0


os.register_at_fork(after_in_child=_forget_pool)  # a forked child must not repeat our UIDs


def new_uid() -> str:
    """A random (version 4) UUID, as kube's uuid.New. Every request gets one (its audit ID) and
    every create another: ``uuid.uuid4()`` makes a getrandom system call for each, so the random
    bytes are read 4 KiB at a time instead."""
    global _random_pool, _random_at
    at = _random_at
    if at + 16 > len(_random_pool):
        _random_pool, at = os.urandom(4096), 0
    _random_at = at + 16
    raw = _random_pool[at:at + 16]
    text = (raw[:6] + bytes((raw[6] & 0x0F | 0x40,)) + raw[7:8] + bytes((raw[8] & 0x3F | 0x80,))
            + raw[9:]).hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def generate_name(prefix: str) -> str:
    """``prefix`` plus 5 random characters, the prefix cut so the name fits (names.SimpleNameGenerator)."""
    prefix = prefix[: _MAX_NAME - _GENERATED_SUFFIX]
    return prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(_GENERATED_SUFFIX))


def metadata(obj: Object) -> Object:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def resource_version(obj: Object) -> str:
    return metadata(obj).get("resourceVersion") or ""


# Fields an update always takes from the stored object.
SERVER_SET_ON_UPDATE = ("generation", "selfLink")


def drop_empty_meta(obj: Object) -> None:
    """What a round trip through Go's ObjectMeta drops: every field is ``omitempty``, so null,
    "", {}, [] and a zero generation are not stored (an update adding ``labels: {}`` is a no-op)."""
    meta = metadata(obj)
    for key, value in list(meta.items()):
        if value is None or (isinstance(value, (str, dict, list)) and not value) or \
                (key == "generation" and value == 0):
            del meta[key]


def prepare_create_meta(obj: Object, *, track_generation: bool) -> None:
    meta = metadata(obj)
    for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        meta.pop(key, None)
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now_rfc3339()
    if track_generation:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)


def prepare_update_meta(obj: Object, old: Object, *, track_generation: bool) -> None:
    """rest.BeforeUpdate's bookkeeping: what the update may not set is taken from ``old``; a
    changed uid (or a deletionTimestamp set by an update) stays, for validation to refuse."""
    meta, old_meta = metadata(obj), metadata(old)
    for key in SERVER_SET_ON_UPDATE:
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if not meta.get("uid") and old_meta.get("uid"):  # "use the existing UID if none is provided"
        meta["uid"] = old_meta["uid"]
    for key in ("creationTimestamp", "deletionTimestamp"):  # ignored / never removed or changed
        if old_meta.get(key):
            meta[key] = old_meta[key]
    if old_meta.get("deletionGracePeriodSeconds") is not None and meta.get("deletionGracePeriodSeconds") is None:
        meta["deletionGracePeriodSeconds"] = old_meta["deletionGracePeriodSeconds"]
    if track_generation and _spec_changed(obj, old):
        meta["generation"] = int(old_meta.get("generation") or 0) + 1


def _spec_changed(obj: Object, old: Object) -> bool:
    ignored = ("metadata", "status", "kind", "apiVersion")
    return {k: v for k, v in obj.items() if k not in ignored} != \
        {k: v for k, v in old.items() if k not in ignored}
