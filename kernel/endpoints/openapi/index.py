"""Which OpenAPI v3 documents a set of groups has: the keys of the /openapi/v3 index, known
without generating any document (the routes are made from them before anything is built)."""

from __future__ import annotations

from collections.abc import Iterable

from kernel.endpoints.apigroup import APIGroup
from kernel.endpoints.discovery import sort_groups


def document_keys(groups: Iterable[APIGroup]) -> list[str]:
    """The index keys in the index's order: ``api``, ``apis``, then ``apis/<g>`` and each
    ``apis/<g>/<v>`` (``api/v1``) that has resources."""
    keys = ["api", "apis"]
    for name, versions in sort_groups(groups):
        if name:
            keys.append(f"apis/{name}")
        keys.extend(group.prefix.lstrip("/") for group in versions if group.resources)
    return keys
