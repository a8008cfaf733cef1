"""Many objects loaded straight into etcd, then read through ``kernel serve``: the watch cache's
paged initial list, LIST with ``limit``/``continue`` from the cache and, after a write, from
etcd (pages of JSON with the resourceVersion spliced in), and kubectl's chunked list."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from kernel.storage import codec
from kernel_storage_etcd3.testing import INSTALLED, MISSING, EtcdProcess, raw_client

from etcd3_helpers import KUBECTL

pytestmark = [pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed"),
              pytest.mark.skipif(not INSTALLED, reason=MISSING)]

NAMESPACES = ("one", "two", "three")
COUNT = 2400  # over the namespaces; kube-root-ca.crt of each comes on top
LIMIT = 500


def load(etcd: EtcdProcess) -> dict[tuple[str, str], int]:
    """COUNT configmaps as the kernel stores them, put in transactions of 120; their revisions."""
    client = raw_client(etcd.url)
    txn = client.transactions
    revisions = {}
    names = [(NAMESPACES[i % 3], f"cm-{(i * 7919) % COUNT:05d}") for i in range(COUNT)]
    for start in range(0, COUNT, 120):
        puts = []
        for namespace, name in names[start:start + 120]:
            obj = {"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()),
                                "creationTimestamp": "2026-01-01T00:00:00Z"},
                   "data": {"key": name * 20}}
            puts.append(txn.put(f"/registry/configmaps/{namespace}/{name}", codec.encode(obj)))
        _, responses = client.transaction(compare=[], success=puts, failure=[])
        for (namespace, name), response in zip(names[start:start + 120], responses):
            revisions[(namespace, name)] = response.response_put.header.revision
    client.close()
    return revisions


def page_through(client, poke=None) -> tuple[list[dict], set[str]]:
    items, revisions, token = [], set(), ""
    while True:
        response = client.get("/api/v1/configmaps",
                              params={"limit": LIMIT, **({"continue": token} if token else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        revisions.add(body["metadata"]["resourceVersion"])
        if poke is not None and len(items) == LIMIT:
            poke()
        token = body["metadata"].get("continue")
        if not token:
            return items, revisions


def test_paging_through_a_loaded_etcd(own_etcd: EtcdProcess, kernels) -> None:
    revisions = load(own_etcd)
    for namespace in NAMESPACES:  # the namespaces themselves, for kubectl and the publisher
        own_etcd.ctl("put", f"/registry/namespaces/{namespace}", json.dumps(
            {"kind": "Namespace", "apiVersion": "v1",
             "metadata": {"name": namespace, "uid": str(uuid.uuid4())}, "spec": {}}))
    kernel = kernels("large", f"--etcd-servers={own_etcd.url}", "--etcd-compaction-interval=0")
    with kernel.client(timeout=60) as client:
        whole = client.get("/api/v1/configmaps").json()["items"]
        ours = [obj for obj in whole if obj["metadata"]["name"] != "kube-root-ca.crt"]
        assert {(o["metadata"]["namespace"], o["metadata"]["name"]): int(o["metadata"]["resourceVersion"])
                for o in ours} == revisions
        items, list_revisions = page_through(client)  # from the watch cache
        assert items == whole and len(list_revisions) == 1
        keys = [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in items]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)

        # A write after the first page: the rest comes from etcd at the first page's revision.
        victim = max(key for key in keys if key[1] != "kube-root-ca.crt")  # on a later page

        def poke() -> None:
            path = f"/api/v1/namespaces/{victim[0]}/configmaps/{victim[1]}"
            assert client.delete(path).status_code == 200
        items, list_revisions = page_through(client, poke)
        assert items == whole and len(list_revisions) == 1  # the deleted one is still there
        assert len(client.get("/api/v1/configmaps").json()["items"]) == len(whole) - 1

    chunked = kernel.kubectl("get", "configmaps", "-A", "--chunk-size=300", "-o", "name")
    assert len(chunked.stdout.split()) == len(whole) - 1
