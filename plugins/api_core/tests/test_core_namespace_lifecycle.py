"""NamespaceLifecycle reads namespaces from the informer, not from storage, for every CREATE (a
quorum read per write on etcd), and still refuses content in a namespace it saw deleted."""

from __future__ import annotations

import re
import time
from pathlib import Path

from kernel.testing import start_kernel


def namespace_reads(client) -> float:
    """Storage gets of namespaces so far (the apiserver_storage_request_duration_seconds count)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("apiserver_storage_request_duration_seconds_count") and \
                'operation="get"' in line and re.search(r'type="namespaces"', line):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_creates_use_the_informer_and_a_deleted_namespace_is_refused(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path, "--plugins=api_core,storage_memory")
    try:
        with kernel.client() as client:
            assert client.post("/api/v1/namespaces",
                               json={"metadata": {"name": "team"}}).status_code == 201
            path = "/api/v1/namespaces/team/configmaps"
            assert client.post(path, json={"metadata": {"name": "first"}}).status_code == 201
            time.sleep(0.2)  # the informer has the namespace by now
            before = namespace_reads(client)
            for i in range(20):
                assert client.post(path, json={"metadata": {"name": f"c{i}"}}).status_code == 201
            assert namespace_reads(client) == before
            assert client.delete("/api/v1/namespaces/team").status_code == 200
            refused = client.post(path, json={"metadata": {"name": "late"}})
            assert refused.status_code in (403, 404), refused.text
            assert client.post("/api/v1/namespaces/nowhere/configmaps",
                               json={"metadata": {"name": "x"}}).status_code == 404
    finally:
        assert kernel.stop() == 0
