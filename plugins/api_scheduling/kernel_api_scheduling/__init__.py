"""scheduling.k8s.io/v1: priorityclasses, with kube's two system classes created at startup."""

from __future__ import annotations

from kernel_api_scheduling.priorityclasses import priorityclass_spec

RESOURCES = [priorityclass_spec]

__all__ = ["RESOURCES", "priorityclass_spec"]
