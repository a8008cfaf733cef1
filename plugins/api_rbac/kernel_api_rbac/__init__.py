"""rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding; kube's
bootstrap policy, its reconciliation, ClusterRole aggregation and escalation prevention."""

from __future__ import annotations

from kernel_api_rbac.resources import RESOURCES

__all__ = ["RESOURCES"]
