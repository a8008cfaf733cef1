"""coordination.k8s.io/v1: leases (leader election, node heartbeats)."""

from __future__ import annotations

from kernel_api_coordination.leases import lease_spec

RESOURCES = [lease_spec]

__all__ = ["RESOURCES", "lease_spec"]
