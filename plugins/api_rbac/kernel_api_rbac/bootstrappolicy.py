"""kube's RBAC bootstrap policy, read from the data its own tests record (``bootstrap/``).

Roles and bindings are returned as API objects (dicts) in the order kube lists them. The tree the
data comes from adds ``system:openshift:*`` entries; they are not kube's and are dropped.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path
from typing import Any

import yaml

BOOTSTRAP = Path(__file__).resolve().parent / "bootstrap"
_FOREIGN = "system:openshift:"
# libyaml's parser (in PyYAML's wheels) reads the ~90 KB of policy in ~40 ms of CPU instead of
# ~210 ms, on the path to /readyz; the same objects come out of either.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _load(name: str) -> tuple[dict[str, Any], ...]:
    document = yaml.load(gzip.decompress((BOOTSTRAP / f"{name}.yaml.gz").read_bytes()), Loader=_LOADER)
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
