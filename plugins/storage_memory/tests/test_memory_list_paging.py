"""Paging through many objects on the memory store, bare and under the watch cache."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kernel.storage.testing_lists import ListPagingConformance

from kernel_storage_memory import MemoryStorage


class TestMemoryPaging(ListPagingConformance):
    @pytest.fixture
    async def backend(self) -> AsyncIterator[MemoryStorage]:
        store = MemoryStorage(history=5000)
        yield store
        await store.close()


class TestCachedMemoryPaging(TestMemoryPaging):
    cached = True
