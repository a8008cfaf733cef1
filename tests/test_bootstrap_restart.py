"""A restarted server finds what its bootstrap hooks made by reading it, as kube's bootstrap
controllers do: no create is attempted at startup, so a restart with its state writes nothing."""

from __future__ import annotations

from pathlib import Path

from kernel.testing import KernelProcess, start_kernel

ARGS = ("--plugins=api_core,storage_sqlite,api_rbac,authz_rbac", "--storage-backend=sqlite", "-v=2")


def revision(kernel: KernelProcess) -> str:
    with kernel.client() as client:
        return client.get("/api/v1/namespaces", params={"limit": 1}).json()["metadata"]["resourceVersion"]


def test_a_restart_reads_the_bootstrap_namespaces_and_writes_nothing(tmp_path: Path) -> None:
    first = start_kernel(tmp_path, *ARGS)
    try:
        written = revision(first)
    finally:
        first.stop()
    restarted = start_kernel(tmp_path, *ARGS)  # the same data directory; a new log
    try:
        requests = [line for line in restarted.log().splitlines()
                    if "kernel.httplog]" in line and 'URI="/api/v1/namespaces' in line]
        # The default namespaces (api_core) and the RBAC roles' namespaces (api_rbac), each read.
        assert len(requests) >= 4 and all('verb="GET"' in line and line.endswith("resp=200")
                                          for line in requests), "\n".join(requests)
        assert revision(restarted) == written
    finally:
        restarted.stop()


def test_a_restart_with_every_plugin_creates_nothing(tmp_path: Path) -> None:
    # Every bootstrap hook reads before it creates (namespaces, RBAC policy, system priority
    # classes, ...). What a restart may still write is the kubernetes Service's endpoints: this
    # test's servers listen on a new port each time.
    first = start_kernel(tmp_path, "-v=2")
    first.stop()
    restarted = start_kernel(tmp_path, "-v=2")
    try:
        writes = [line for line in restarted.log().splitlines() if "kernel.httplog]" in line
                  and 'verb="GET"' not in line and 'verb="LIST"' not in line
                  and 'verb="WATCH"' not in line]
        assert writes, "the port changed: the kubernetes endpoints are written"
        assert all('verb="PUT"' in line and "/namespaces/default/" in line and "/kubernetes\"" in line
                   for line in writes), "\n".join(writes)
    finally:
        restarted.stop()
