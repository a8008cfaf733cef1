"""The kernel's storage conformance suite against etcd3, bare and under the watch cache."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kernel.storage.cacher import Cacher, open_cacher
from kernel.testing.contracts import StorageContract

from kernel_storage_etcd3 import Etcd3Storage


class TestEtcd3Storage(StorageContract):
    @pytest.fixture
    async def storage(self, etcd_storage: Etcd3Storage) -> AsyncIterator[Etcd3Storage]:
        yield etcd_storage


class TestCachedEtcd3Storage(StorageContract):
    @pytest.fixture
    async def storage(self, etcd_storage: Etcd3Storage) -> AsyncIterator[Cacher]:
        async with open_cacher(etcd_storage, self.prefix) as cacher:
            yield cacher
