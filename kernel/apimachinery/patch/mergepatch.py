"""RFC 7386 JSON Merge Patch (application/merge-patch+json)."""

from __future__ import annotations

from typing import Any

from ._values import copy_json, copy_patch, guard_recursion


@guard_recursion
def merge_patch(document: Any, patch: Any) -> Any:
    """Apply a merge patch to a copy of ``document``.

    Null deletes a member, objects merge recursively, anything else replaces.
    """
    return _merge(copy_json(document), copy_patch(patch))


def _merge(target: Any, patch: Any) -> Any:
    # Both arguments are private copies, so they are updated in place.
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge(target.get(key), value)
    return target
