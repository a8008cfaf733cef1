"""Which node a user is (kube's pkg/auth/nodeidentifier): ``system:node:<name>`` in ``system:nodes``."""

from __future__ import annotations

from kernel.authentication.user import UserInfo

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"


def node_identity(user: UserInfo) -> tuple[str, bool]:
    """``(node name, is a node)``; the name is "" for ``system:node:`` itself (a node, unknown)."""
    if not user.name.startswith(NODE_USER_PREFIX) or NODES_GROUP not in user.groups:
        return "", False
    return user.name[len(NODE_USER_PREFIX):], True
