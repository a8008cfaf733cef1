"""The memory backend's own behaviour: bounded history, the plugin's hooks and flag."""

from __future__ import annotations


import pytest
import trio

from kernel.server.options import OptionSet, parse
from kernel.storage.errors import (
    EXPIRED_WATCH, ResourceExpiredError, StorageUnavailableError,
)
from kernel.storage.interface import Storage
from kernel.storage.testing import PREFIX, key, names, rv, take, widget
from kernel.testing import assemble

import kernel_storage_memory
from kernel_storage_memory import MemoryStorage


async def test_history_is_bounded() -> None:
    store = MemoryStorage(history=3)
    first = await store.create(key("a"), widget("a"))
    for i in range(5):
        await store.create(key(f"b{i}"), widget(f"b{i}"))
    current = await store.current_revision()
    with pytest.raises(ResourceExpiredError):
        await store.get_list(PREFIX, revision=rv(first))
    then = await store.get_list(PREFIX, revision=current - 3)
    assert names(then.items) == ["a", "b0", "b1"]
    with pytest.raises(ResourceExpiredError):
        async with store.watch(PREFIX, revision=current - 4):
            pass
    async with store.watch(PREFIX, revision=current - 3) as events:
        assert len(await take(events, 3)) == 3


async def test_deleted_keys_leave_the_index_once_compacted() -> None:
    store = MemoryStorage(history=2)
    for i in range(50):
        await store.create(key(f"k{i}"), widget(f"k{i}"))
        await store.delete(key(f"k{i}"))
    assert len(store._index) <= 2 and store._live == [] and len(store._versions) <= 2
    assert (await store.get_list(PREFIX)).items == []


async def test_a_watch_overtaken_by_compaction_ends_with_410() -> None:
    store = MemoryStorage(history=5)
    async with store.watch(PREFIX, revision=0) as events:
        for i in range(10):  # nobody reads the watch meanwhile
            await store.create(key(f"k{i}"), widget(f"k{i}"))
        with pytest.raises(ResourceExpiredError) as info:
            await events.__anext__()
        assert info.value.message == EXPIRED_WATCH


async def test_progress_notify_reports_other_writes() -> None:
    store = MemoryStorage()
    async with store.watch(PREFIX, revision=0, progress_notify=True) as events:
        await store.create("/registry/gadgets/default/g", widget("g"))
        with trio.fail_after(5):
            event = await events.__anext__()
        assert event.type == "BOOKMARK" and event.revision == await store.current_revision()


async def test_closed_store_is_unavailable() -> None:
    store = MemoryStorage()
    await store.close()
    with pytest.raises(StorageUnavailableError):
        await store.health()
    with pytest.raises(StorageUnavailableError):
        await store.create(key("a"), widget("a"))


async def test_values_are_immutable_copies() -> None:
    store = MemoryStorage()
    obj = widget("a", data={"nested": {"x": 1}})
    await store.create(key("a"), obj)
    obj["data"]["nested"]["x"] = 2
    got = await store.get(key("a"))
    assert got["data"] == {"nested": {"x": 1}}
    with pytest.raises(TypeError):
        await store.create(key("b"), {"metadata": "nope"})


def test_plugin_hooks_and_flag(tmp_path) -> None:
    backends = kernel_storage_memory.kernel_storage_backends()
    option_set = OptionSet()
    kernel_storage_memory.kernel_add_options(option_set.for_plugin("storage_memory"))
    options = parse(option_set, ["--storage-memory-history=50"]).options
    assert kernel_storage_memory.kernel_validate_options(options) == []
    server = assemble(tmp_path, "--plugins=api_core,storage_memory", "--storage-memory-history=50")
    store = server.context.component("storage_backends", "memory")
    assert isinstance(store, Storage) and store.history == 50
    assert backends["memory"] is kernel_storage_memory._factory
    assert parse(option_set, []).options.storage_memory_history == 10000
    bad = parse(option_set, ["--storage-memory-history=0"]).options
    assert kernel_storage_memory.kernel_validate_options(bad) == [
        "--storage-memory-history: must be at least 1, got 0"]
