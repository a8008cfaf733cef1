"""A write wakes only the watches under its key; progress comes on request or after
PROGRESS_INTERVAL (virtual time: trio's MockClock, nothing here measures wall-clock time)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from kernel.storage.cacher import open_cacher
from kernel.storage.errors import ResourceExpiredError
from kernel.storage.testing import PREFIX, key, names, widget

from kernel_storage_memory import MemoryStorage
from kernel_storage_memory.watch import PROGRESS_INTERVAL, MemoryWatch

GADGET = "/registry/gadgets/default/g"


async def next_event(watch: MemoryWatch, into: list) -> None:
    into.append(await watch.__anext__())


async def test_a_write_wakes_only_the_watches_under_its_key() -> None:
    store = MemoryStorage()
    async with store.watch(PREFIX, revision=0) as widgets, \
            store.watch("/registry/gadgets/", revision=0) as gadgets, \
            trio.open_nursery() as nursery:
        got: list = []
        nursery.start_soon(next_event, widgets, got)
        await trio.testing.wait_all_tasks_blocked()
        asleep = widgets._wakeup
        assert asleep is not None
        for i in range(3):
            await store.create(f"{GADGET}{i}", widget(f"g{i}"))
        await trio.testing.wait_all_tasks_blocked()
        assert widgets._wakeup is asleep and not asleep.is_set() and got == []
        assert len(gadgets._queue) == 3 and not widgets._queue
        created = await store.create(key("w"), widget("w"))
        await trio.testing.wait_all_tasks_blocked()
        assert [(e.type, e.revision) for e in got] == [
            ("ADDED", int(created["metadata"]["resourceVersion"]))]
    assert store._router._by_prefix == {}  # closed watches leave the router


async def test_progress_is_given_on_request_or_after_the_interval(
        autojump_clock: trio.testing.MockClock) -> None:
    store = MemoryStorage()
    async with store.watch(PREFIX, revision=0, progress_notify=True) as events:
        await store.create(GADGET, widget("g"))
        start = trio.current_time()
        event = await events.__anext__()  # nothing asked: the periodic progress, in a while
        assert event.type == "BOOKMARK" and event.revision == await store.current_revision()
        assert trio.current_time() - start == pytest.approx(PROGRESS_INTERVAL)
        for i in range(5):  # a burst elsewhere: one bookmark, at its end
            await store.create(f"{GADGET}{i}", widget(f"g{i}"))
        event = await events.__anext__()
        assert event.type == "BOOKMARK" and event.revision == await store.current_revision()
        await store.create(f"{GADGET}x", widget("gx"))
        start = trio.current_time()
        events.request_progress()
        event = await events.__anext__()  # asked for: at once
        assert event.revision == await store.current_revision() and trio.current_time() == start
        events.request_progress()  # nothing new yet: the bookmark waits for the next write
        async with trio.open_nursery() as nursery:
            got: list = []
            nursery.start_soon(next_event, events, got)
            await trio.testing.wait_all_tasks_blocked()
            assert got == []
            await store.create(f"{GADGET}y", widget("gy"))
        assert got[0].type == "BOOKMARK" and got[0].revision == await store.current_revision()
        assert trio.current_time() == start


async def test_writes_elsewhere_do_not_expire_an_idle_watch() -> None:
    store = MemoryStorage(history=5)
    async with store.watch(PREFIX, revision=0) as events:
        for i in range(20):  # far past the history, none of them under PREFIX
            await store.create(f"{GADGET}{i}", widget(f"g{i}"))
        await store.create(key("w"), widget("w"))
        with trio.fail_after(5):
            event = await events.__anext__()
        assert event.type == "ADDED" and event.key == key("w")
    async with store.watch(PREFIX, revision=0) as events:  # unread changes compacted: 410
        for i in range(10):
            await store.create(key(f"k{i}"), widget(f"k{i}"))
        with pytest.raises(ResourceExpiredError):
            await events.__anext__()
        assert not events._queue  # nothing held for it once it expired


async def test_a_past_watch_reads_the_log_then_the_routed_changes() -> None:
    store = MemoryStorage()
    first = await store.create(key("a"), widget("a"))
    await store.create(key("b"), widget("b"))
    await store.create(GADGET, widget("g"))
    async with store.watch(PREFIX, revision=int(first["metadata"]["resourceVersion"]) - 1,
                           progress_notify=True) as events:
        with trio.fail_after(5):
            got = [await events.__anext__() for _ in range(3)]
            await store.create(key("c"), widget("c"))
            got.append(await events.__anext__())
    # the past, then a bookmark (caught up with the log), then the change made since
    assert [e.type for e in got] == ["ADDED", "ADDED", "BOOKMARK", "ADDED"]
    assert [e.key for e in got if e.type == "ADDED"] == [key("a"), key("b"), key("c")]
    assert got[2].revision == got[3].revision - 1


async def test_the_cache_asks_for_progress_instead_of_waiting(
        autojump_clock: trio.testing.MockClock) -> None:
    store = MemoryStorage()
    async with open_cacher(store, PREFIX, fresh_timeout=60) as cacher:
        await cacher.create(key("w"), widget("w"))
        await store.create(GADGET, widget("g"))
        start = trio.current_time()
        assert await cacher.wait_fresh()  # a consistent read: fresh without waiting
        assert cacher.revision == await store.current_revision()
        await store.create(f"{GADGET}2", widget("g2"))
        current = await store.current_revision()
        # An exact revision the cache has no event of: the watch starts at once all the same.
        async with cacher.watch(PREFIX, revision=current) as events:
            created = await cacher.create(key("v"), widget("v"))
            event = await events.__anext__()
        assert event.object == created
        assert names((await cacher.get_list(PREFIX)).items) == ["v", "w"]
        assert trio.current_time() == start
