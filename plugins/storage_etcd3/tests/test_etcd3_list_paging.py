"""Paging through many objects on etcd, bare and under the watch cache (whose initial list then
reads pages of JSON it never decodes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from kernel.storage import codec
from kernel.storage.testing_lists import COUNT, ListPagingConformance, widget

from kernel_storage_etcd3 import Etcd3Storage
from kernel_storage_etcd3.testing import raw_client

TXN_OPS = 128  # etcd's default --max-txn-ops


class TestEtcd3Paging(ListPagingConformance):
    @pytest.fixture
    async def backend(self, etcd_storage: Etcd3Storage) -> AsyncIterator[Etcd3Storage]:
        yield etcd_storage

    async def fill(self, backend: Etcd3Storage) -> None:  # type: ignore[override]
        """Straight into etcd, as objects stored by the kernel (transactions of puts)."""
        client = raw_client(str(backend.config.servers[0]))
        txn = client.transactions
        puts = [txn.put(backend.keys.to_etcd(key), codec.encode(obj))
                for key, obj in map(widget, range(COUNT))]
        for start in range(0, len(puts), TXN_OPS):
            await trio.to_thread.run_sync(lambda: client.transaction(
                compare=[], success=puts[start:start + TXN_OPS], failure=[]))
        client.close()


class TestCachedEtcd3Paging(TestEtcd3Paging):
    cached = True
