"""One rule resolver per server, shared by the RBAC mode and the escalation check; none shared
between two servers built in one process."""

from __future__ import annotations

from pathlib import Path

from kernel.testing import assemble
from kernel_api_rbac.group import rbac_group

FLAGS = ("--plugins=storage_memory,api_rbac,authz_rbac", "--authorization-mode=RBAC")


def test_each_server_has_its_own_resolver_shared_by_its_components(tmp_path: Path) -> None:
    servers = [assemble(tmp_path / name, *FLAGS) for name in ("a", "b")]
    resolvers = []
    for server in servers:
        context = server.context
        resolver = rbac_group(context).rule_resolver
        assert context.component("authorizers", "RBAC").resolver is resolver
        assert context.component("admission_plugins", "RBACEscalation").resolver is resolver
        resolvers.append(resolver)
    assert resolvers[0] is not resolvers[1]
    assert resolvers[0].role_bindings is not resolvers[1].role_bindings
