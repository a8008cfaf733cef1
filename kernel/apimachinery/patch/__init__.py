"""The three PATCH body formats kube-apiserver accepts, as pure functions over JSON values.

* :func:`json_patch` - RFC 6902 (``application/json-patch+json``)
* :func:`merge_patch` - RFC 7386 (``application/merge-patch+json``)
* :func:`strategic_merge_patch` - Kubernetes strategic merge patch
  (``application/strategic-merge-patch+json``), driven by a :class:`PatchMeta`
* :func:`apply_patch` - decode a request body and dispatch on its Content-Type

Every function returns a new document and never mutates its arguments. Failures raise
:class:`PatchError` carrying the HTTP code kube-apiserver answers (see ``errors.py``).
"""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.patchtypes import (
    APPLY_PATCH, JSON_PATCH, MERGE_PATCH, PATCH_CONTENT_TYPES, STRATEGIC_MERGE_PATCH,
)

from ._values import MAX_DOCUMENT_DEPTH, MAX_PATCH_DEPTH, go_repr
from .decode import decode_json
from .errors import PatchError, bad_request, invalid, unsupported_media_type
from .jsonpatch import MAX_JSON_PATCH_COPY_BYTES, MAX_JSON_PATCH_OPERATIONS, json_patch
from .mergepatch import merge_patch
from .strategic import (
    NO_PATCH_META,
    PatchMeta,
    StaticPatchMeta,
    patch_meta_from_dict,
    strategic_merge_patch,
)


__all__ = [
    "go_repr",
    "APPLY_PATCH", "JSON_PATCH", "MAX_DOCUMENT_DEPTH", "MAX_JSON_PATCH_COPY_BYTES", "MAX_JSON_PATCH_OPERATIONS",
    "MAX_PATCH_DEPTH", "MERGE_PATCH",
    "NO_PATCH_META", "PATCH_CONTENT_TYPES", "STRATEGIC_MERGE_PATCH", "PatchError", "PatchMeta",
    "StaticPatchMeta", "apply_patch", "json_patch", "merge_patch", "patch_meta_from_dict",
    "strategic_merge_patch",
]


def apply_patch(content_type: str, document: dict[str, Any], body: bytes,
                schema: PatchMeta | None) -> dict[str, Any]:
    """Apply a PATCH request body to ``document`` according to its Content-Type.

    ``schema`` is the type's patch metadata; None means the type has none (custom resources),
    for which kube refuses strategic merge patches with 415.
    """
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type not in PATCH_CONTENT_TYPES:
        raise unsupported_media_type(list(PATCH_CONTENT_TYPES))
    if media_type == STRATEGIC_MERGE_PATCH and schema is None:
        raise unsupported_media_type([JSON_PATCH, MERGE_PATCH])
    patch = decode_json(body)
    if media_type == JSON_PATCH:
        result = json_patch(document, patch)
    elif media_type == MERGE_PATCH:
        if not isinstance(patch, (dict, list)):
            raise bad_request("Invalid JSON Patch")  # evanphx MergePatch on null or a scalar
        result = merge_patch(document, patch)
    else:
        assert schema is not None
        result = strategic_merge_patch(document, patch, schema)
    if not isinstance(result, dict):
        # kube fails to decode the result into the object: 422 Invalid.
        raise invalid("patch: Invalid value: the patched document is not a JSON object")
    return result
