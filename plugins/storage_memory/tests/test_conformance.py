"""The kernel's storage conformance suite against the memory store, bare and under the watch cache."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kernel.storage.cacher import Cacher, open_cacher
from kernel.testing.contracts import StorageContract

from kernel_storage_memory import MemoryStorage


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    async def storage(self) -> AsyncIterator[MemoryStorage]:
        store = MemoryStorage(history=1000)
        yield store
        await store.close()


class TestCachedMemoryStorage(StorageContract):
    @pytest.fixture
    async def storage(self) -> AsyncIterator[Cacher]:
        backend = MemoryStorage(history=1000)
        async with open_cacher(backend, self.prefix) as cacher:
            yield cacher
        await backend.close()
