"""--event-ttl on etcd3: Events are written with an etcd lease (shared as kube's leaseManager
shares them) and etcd deletes them when it expires; nothing else is ever leased."""

from __future__ import annotations

import json
import time

import pytest

from kernel_storage_etcd3 import Etcd3Storage, EtcdConfig
from kernel_storage_etcd3.lease_manager import LeaseManager
from kernel_storage_etcd3.testing import EtcdProcess

EVENT = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
         "involvedObject": {"kind": "ConfigMap", "namespace": "default", "name": "x"},
         "reason": "Tested", "message": "expires", "type": "Normal"}
EVENTS = "/api/v1/namespaces/default/events"


def lease_of(etcd: EtcdProcess, key: str) -> int | None:
    """The lease id a key is attached to (0: none), None if the key is not in etcd."""
    kvs = json.loads(etcd.ctl("get", key, "-w", "json").stdout).get("kvs") or []
    return int(kvs[0].get("lease", 0)) if kvs else None


def granted_ttl(etcd: EtcdProcess, lease: int) -> int:
    answer = json.loads(etcd.ctl("lease", "timetolive", f"{lease:x}", "-w", "json").stdout)
    return int(answer["granted-ttl"])


def test_events_expire_from_etcd_and_nothing_else_is_leased(etcd: EtcdProcess, kernels) -> None:
    kernel = kernels("a", f"--etcd-servers={etcd.url}", "--etcd-prefix=/ttl-e2e",
                     "--event-ttl=2s")
    with kernel.client() as client:
        assert client.post(EVENTS, json=EVENT).status_code == 201
        assert client.post("/api/v1/namespaces/default/configmaps",
                           json={"metadata": {"name": "kept"}}).status_code == 201
        event_key = "/ttl-e2e/events/default/e1"
        lease = lease_of(etcd, event_key)
        assert lease, "the event was stored without a lease"
        assert granted_ttl(etcd, lease) == 2  # 5% of 2 s is no reuse window
        assert lease_of(etcd, "/ttl-e2e/configmaps/default/kept") == 0
        assert lease_of(etcd, "/ttl-e2e/namespaces/default") == 0
        deadline = time.monotonic() + 15
        while lease_of(etcd, event_key) is not None:
            assert time.monotonic() < deadline, "etcd never removed the event"
            time.sleep(0.2)
        assert client.get(f"{EVENTS}/e1").status_code == 404
        assert client.get(EVENTS).json()["items"] == []
        assert client.get("/api/v1/namespaces/default/configmaps/kept").status_code == 200
    assert kernel.stop() == 0


async def test_writes_close_in_time_share_a_lease(etcd: EtcdProcess, etcd_prefix: str) -> None:
    store = Etcd3Storage(EtcdConfig.for_servers(etcd.url, prefix=etcd_prefix),
                         ttls={"/registry/events/": 100})
    try:
        for name in ("a", "b"):
            await store.create(f"/registry/events/default/{name}", {"metadata": {"name": name}})
        await store.guaranteed_update("/registry/events/default/a",
                                      lambda o: {**o, "note": "updated"})
        await store.create("/registry/configmaps/default/c", {"metadata": {"name": "c"}})
    finally:
        await store.close()
    leases = {lease_of(etcd, f"{etcd_prefix}/events/default/{name}") for name in ("a", "b")}
    assert len(leases) == 1 and 0 not in leases, leases
    assert granted_ttl(etcd, leases.pop()) == 105  # the TTL and kube's 5% reuse window
    assert lease_of(etcd, f"{etcd_prefix}/configmaps/default/c") == 0


async def test_lease_manager_grants_again_past_its_object_limit_or_window() -> None:
    granted: list[int] = []

    async def grant(ttl: int) -> int:
        granted.append(ttl)
        return len(granted)

    manager = LeaseManager(grant, max_objects=2)
    assert [await manager.get_lease(100) for _ in range(5)] == [1, 1, 2, 2, 3]
    assert granted == [105, 105, 105]
    # a much shorter TTL does not attach to a lease granted for a longer one
    assert await manager.get_lease(10) == 4 and granted[-1] == 10


@pytest.mark.parametrize("ttl,window", [(2, 0), (100, 5), (3600, 60), (7200, 60)])
def test_reuse_window_is_five_percent_at_most_a_minute(ttl: int, window: int) -> None:
    async def never(ttl: int) -> int:
        raise AssertionError
    assert LeaseManager(never).reuse_seconds(ttl) == window
