"""The watch cache's own suite (storage_memory's tests/test_cacher.py), over the sqlite store:
the same tests, with the ``backend`` fixture giving a counting SqliteStorage in tmp_path."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import kernel_storage_memory
from kernel.storage.interface import ListResult, Object

from kernel_storage_sqlite.store import SqliteStorage

_SUITE = Path(kernel_storage_memory.__file__).resolve().parents[1] / "tests" / "test_cacher.py"
_spec = importlib.util.spec_from_file_location("storage_memory_cacher_suite", _SUITE)
assert _spec is not None and _spec.loader is not None
suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite)

# Every test that takes the ``backend`` or ``cacher`` fixture (the others build their own store).
globals().update({name: test for name, test in vars(suite).items() if name.startswith("test_")
                  and {"backend", "cacher"} & set(inspect.signature(test).parameters)})
cacher = suite.cacher


class CountingSqliteStorage(SqliteStorage):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lists: list[tuple[str, int | None, str | None]] = []
        self.gets: list[str] = []

    async def get(self, key: str) -> Object:
        self.gets.append(key)
        return await super().get(key)

    async def get_list(self, prefix: str, **kwargs: object) -> ListResult:  # type: ignore[override]
        self.lists.append((prefix, kwargs.get("revision"), kwargs.get("continue_from")))  # type: ignore[arg-type]
        return await super().get_list(prefix, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[CountingSqliteStorage]:
    store = CountingSqliteStorage(tmp_path / "kernel.db", history=1000)
    yield store
    await store.close()
