"""kube's RBAC bootstrap policy, read from the data its own tests record (``bootstrap/``).

Roles and bindings are returned as API objects (dicts) in the order kube lists them. The tree the
data comes from adds ``system:openshift:*`` entries; they are not kube's and are dropped.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import msgspec

BOOTSTRAP = Path(__file__).resolve().parent / "bootstrap"
_FOREIGN = "system:openshift:"
# gzip's framing, read by zlib itself (the gzip module is not needed for a whole small file)
_GZIP = zlib.MAX_WBITS | 16


def _load(name: str) -> tuple[dict[str, Any], ...]:
    # JSON converted from kube's YAML when vendored: no YAML parser on the path to /readyz.
    # Decoded afresh on each call (well under a millisecond) rather than cached: the policy is
    # read at startup only, and kept decoded it would hold ~0.5 MB for the server's lifetime.
    data = zlib.decompress((BOOTSTRAP / f"{name}.json.gz").read_bytes(), _GZIP)
    document = msgspec.json.decode(data)
    return tuple(item for item in document["items"]
                 if not item["metadata"]["name"].startswith(_FOREIGN))


def cluster_roles() -> list[dict[str, Any]]:
    """Every bootstrap ClusterRole: the user-facing and system roles, then the controllers'."""
    return [*_load("cluster-roles"), *_load("controller-roles")]


def cluster_role_bindings() -> list[dict[str, Any]]:
    return [*_load("cluster-role-bindings"), *_load("controller-role-bindings")]


def namespaced_roles() -> list[dict[str, Any]]:
    """Roles in kube-system and kube-public (each carries its namespace)."""
    return list(_load("namespace-roles"))


def namespaced_role_bindings() -> list[dict[str, Any]]:
    return list(_load("namespace-role-bindings"))


def node_rules() -> list[dict[str, Any]]:
    """The rules of the ``system:node`` ClusterRole: what the Node authorizer allows a node
    beyond the objects its pods reference (kube's bootstrappolicy.NodeRules)."""
    for role in _load("cluster-roles"):
        if role["metadata"]["name"] == "system:node":
            return list(role["rules"])
    raise LookupError("system:node is missing from the bootstrap policy")
