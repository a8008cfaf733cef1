"""kernel_api_rbac's bootstrap writer against a real in-process server: it lists each kind once;
an object created after that LIST (by another --workers process, bootstrapping at the same
time) is reconciled, not counted as a failure of the whole policy."""

from __future__ import annotations

from kernel_api_rbac import bootstrappolicy
from kernel_api_rbac.bootstrap import PolicyWriter, collection
from kernel_api_rbac.escalation import covers


async def test_an_object_created_since_the_list_is_reconciled_not_failed(kernel_in_process) -> None:
    kernel = await kernel_in_process("--plugins=api_core,storage_memory,api_rbac,authz_rbac")
    client = kernel.server.context.loopback_client("rbac-bootstrap-test")
    expected = next(role for role in bootstrappolicy.cluster_roles()
                    if role["metadata"]["name"] == "system:basic-user")
    path = f"{collection('clusterroles')}/system:basic-user"
    # As if another process had just created it, with a rule less than the policy's.
    current = await client.get(path)
    assert await client.update(path, {**current, "rules": current["rules"][1:]})
    writer = PolicyWriter(client)
    assert ("", "system:basic-user") in await writer.listed("clusterroles")
    await writer.ensure("clusterroles", expected, False, None)  # listed as missing: create → 409
    assert covers((await client.get(path))["rules"], expected["rules"])[0]  # reconciled
