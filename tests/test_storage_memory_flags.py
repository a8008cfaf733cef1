"""storage_memory's --storage-memory-history reaches the backend and bounds past reads."""

from __future__ import annotations


async def test_history_flag_bounds_lists_at_past_revisions(kernel_in_process):
    kernel = await kernel_in_process("--storage-memory-history=5")
    assert kernel.server.storage.history == 5
    async with kernel.client() as client:
        first = await client.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "c0"}})
        old_rv = first.json()["metadata"]["resourceVersion"]
        for i in range(1, 10):
            response = await client.post("/api/v1/namespaces/default/configmaps",
                                         json={"metadata": {"name": f"c{i}"}})
            assert response.status_code == 201
        response = await client.get("/api/v1/namespaces/default/configmaps",
                                    params={"resourceVersion": old_rv, "resourceVersionMatch": "Exact"})
        assert response.status_code == 410
        assert response.json()["reason"] == "Expired"
