"""policy/v1: poddisruptionbudgets (+status). The pods/eviction subresource that honours them is
api_core's (``kernel_api_core.eviction``), as kube's lives with the pods."""

from __future__ import annotations

from kernel_api_policy.poddisruptionbudgets import pdb_spec

RESOURCES = [pdb_spec]

__all__ = ["RESOURCES", "pdb_spec"]
