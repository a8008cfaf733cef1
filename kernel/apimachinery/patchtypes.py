"""The PATCH content types (k8s.io/apimachinery/pkg/types/patch.go's PatchType values).

Apart from :mod:`kernel.apimachinery.patch`, which implements them, so a handler can tell which
patch it got without importing the patch machinery (only PATCH requests need it).
"""

from __future__ import annotations

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
#: Server-side apply: not a patch of kernel.apimachinery.patch (see kernel.apimachinery.managedfields).
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_CONTENT_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)
