"""The kernel's storage conformance suite against the sqlite store, bare and under the watch cache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kernel.storage.cacher import open_cacher
from kernel.testing.contracts import StorageContract

from kernel_storage_sqlite.store import SqliteStorage


class TestSqliteStorage(StorageContract):
    @pytest.fixture
    async def storage(self, tmp_path: Path) -> AsyncIterator[SqliteStorage]:
        store = SqliteStorage(tmp_path / "kernel.db", history=1000)
        yield store
        await store.close()


class TestCachedSqliteStorage(StorageContract):
    @pytest.fixture
    async def storage(self, tmp_path: Path) -> AsyncIterator[object]:
        backend = SqliteStorage(tmp_path / "kernel.db", history=1000)
        async with open_cacher(backend, self.prefix) as cacher:
            yield cacher
        await backend.close()
