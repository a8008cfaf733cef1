"""The watch cache's own behaviour, over the real memory store: what it serves from memory,
fan-out, slow watchers, bookmarks, the event window."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
import trio
import trio.testing

from kernel.storage.cacher import Cacher, open_cacher
from kernel.storage.errors import (
    KeyNotFoundError, ResourceExpiredError, TooLargeResourceVersionError, WatchTooSlowError,
)
from kernel.storage.interface import ListResult, Object, Predicate, WatchEvent
from kernel.storage.testing import PREFIX, is_blue, key, names, relabel, rv, take, widget

from kernel_storage_memory import MemoryStorage
from kernel_storage_memory.watch import MemoryWatch


class CountingMemoryStorage(MemoryStorage):
    """The memory store, counting the lists it serves (to see what the cache answers itself)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lists: list[tuple[str, int | None, str | None]] = []
        self.gets: list[str] = []

    async def get(self, key: str) -> Object:
        self.gets.append(key)
        return await super().get(key)

    async def get_list(self, prefix: str, **kwargs: object) -> ListResult:  # type: ignore[override]
        self.lists.append((prefix, kwargs.get("revision"), kwargs.get("continue_from")))  # type: ignore[arg-type]
        return await super().get_list(prefix, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def backend() -> AsyncIterator[CountingMemoryStorage]:
    store = CountingMemoryStorage(history=1000)
    yield store
    await store.close()


@pytest.fixture
async def cacher(backend: CountingMemoryStorage) -> AsyncIterator[Cacher]:
    async with open_cacher(backend, PREFIX, watcher_buffer=5, window=10,
                           bookmark_interval=0.05) as cacher:
        yield cacher


async def test_lists_are_served_from_memory(backend: CountingMemoryStorage, cacher: Cacher) -> None:
    assert backend.lists == [(PREFIX, None, None)]  # the reflector's initial list
    backend.lists.clear()
    for i in range(5):
        await cacher.create(key(f"w{i}"), widget(f"w{i}"))
    page = await cacher.get_list(PREFIX, limit=2)  # consistent: waits for the cache to catch up
    assert names(page.items) == ["w0", "w1"] and page.remaining == 3
    await backend.create("/registry/gadgets/default/g", widget("g"))  # another resource
    page = await cacher.get_list(PREFIX, limit=2, continue_from=page.continue_from)
    assert names(page.items) == ["w2", "w3"]
    assert backend.lists == []  # same state at the token's revision: still from memory
    await cacher.delete(key("w4"))
    assert await cacher.wait_fresh()  # until the cache has applied the deletion
    page = await cacher.get_list(PREFIX, limit=2, continue_from=page.continue_from)
    assert names(page.items) == ["w4"] and page.continue_from is None
    assert len(backend.lists) == 1  # the state moved on: the backend's history answered
    assert names((await cacher.get_list(PREFIX, revision=0)).items) == ["w0", "w1", "w2", "w3"]
    assert names((await cacher.get_list(f"{PREFIX}default/")).items) == ["w0", "w1", "w2", "w3"]
    assert len(backend.lists) == 1
    outside = await cacher.get_list("/registry/gadgets/")
    assert names(outside.items) == ["g"] and len(backend.lists) == 2


async def test_gets_with_a_revision_are_served_from_memory(backend: CountingMemoryStorage,
                                                          cacher: Cacher) -> None:
    first = await cacher.create(key("a"), widget("a"))
    assert (await cacher.get(key("a")))["metadata"] == first["metadata"]  # no revision: the backend
    assert backend.gets == [key("a")]
    relabelled = await cacher.guaranteed_update(key("a"), relabel("blue"))
    await backend.create("/registry/gadgets/default/g", widget("g"))  # the store moves on
    with trio.fail_after(5):
        got = await cacher.get(key("a"), revision=rv(relabelled))  # waits for the cache to apply it
        assert got == relabelled
        assert await cacher.get(key("a"), revision=await backend.current_revision()) == relabelled
    assert await cacher.get(key("a"), revision=0) == relabelled
    assert await cacher.get(key("a"), revision=rv(first)) == relabelled  # not older than: newer
    got["metadata"]["labels"] = {}  # a private copy
    assert await cacher.get(key("a"), revision=0) == relabelled
    with pytest.raises(KeyNotFoundError):
        await cacher.get(key("nope"), revision=0)
    assert backend.gets == [key("a")]  # all of those from memory
    future = await backend.current_revision() + 5
    with pytest.raises(TooLargeResourceVersionError) as raised:
        await cacher.get(key("a"), revision=future)
    assert (raised.value.revision, raised.value.current) == (future, future - 5)
    assert await cacher.get("/registry/gadgets/default/g", revision=0) == \
        await backend.get("/registry/gadgets/default/g")  # outside the cache's prefix: the backend


async def test_progress_from_other_resources_keeps_the_cache_fresh(
        backend: CountingMemoryStorage, cacher: Cacher) -> None:
    await backend.create("/registry/gadgets/default/g", widget("g"))
    with trio.fail_after(5):
        assert await cacher.wait_fresh()
    assert cacher.revision == await backend.current_revision()


async def test_fan_out_shares_event_instances(cacher: Cacher) -> None:
    await cacher.create(key("seed"), widget("seed"))
    start = await cacher.current_revision()
    async with cacher.watch(PREFIX, revision=start) as a, \
            cacher.watch(PREFIX, revision=start) as b, \
            cacher.watch(PREFIX, revision=start, predicate=is_blue) as blue_a, \
            cacher.watch(PREFIX, revision=start, predicate=is_blue) as blue_b:
        await cacher.guaranteed_update(key("seed"), relabel("blue"))
        await cacher.guaranteed_update(key("seed"), relabel("red"))
        got_a, got_b = await take(a, 2), await take(b, 2)
        assert [x is y for x, y in zip(got_a, got_b, strict=True)] == [True, True]
        got_blue_a, got_blue_b = await take(blue_a, 2), await take(blue_b, 2)
        assert [e.type for e in got_blue_a] == ["ADDED", "DELETED"]
        assert [x is y for x, y in zip(got_blue_a, got_blue_b, strict=True)] == [True, True]
        # The HTTP layer's encode-once slot: filled by the first encoder, seen by every watcher.
        got_a[0].encoded["json"] = b"{...}"
        assert got_b[0].encoded == {"json": b"{...}"}


async def test_each_event_reaches_only_the_watchers_of_its_prefix(cacher: Cacher) -> None:
    # A namespace's watch shares the resource's cache with the others: each event, dispatched
    # on its own (the usual case), goes to the watchers whose prefix holds its key, none other.
    start = await cacher.current_revision()
    async with cacher.watch(f"{PREFIX}blue/", revision=start) as blue, \
            cacher.watch(f"{PREFIX}red/", revision=start) as red, \
            cacher.watch(PREFIX, revision=start) as every:
        for name, ns in (("a", "blue"), ("b", "red"), ("c", "blue"), ("d", "red")):
            await cacher.create(key(name, ns), widget(name, ns))
            await trio.testing.wait_all_tasks_blocked()  # dispatched before the next
        assert [e.key for e in await take(blue, 2)] == [key("a", "blue"), key("c", "blue")]
        assert [e.key for e in await take(red, 2)] == [key("b", "red"), key("d", "red")]
        assert [e.revision for e in await take(every, 4)] == [start + 1, start + 2, start + 3,
                                                              start + 4]


async def test_slow_watcher_is_dropped_and_others_are_not_delayed(cacher: Cacher) -> None:
    await cacher.create(key("seed"), widget("seed"))
    start = await cacher.current_revision()
    async with cacher.watch(PREFIX, revision=start) as slow, \
            cacher.watch(PREFIX, revision=start) as fast:
        async with trio.open_nursery() as nursery:
            async def write() -> None:
                for i in range(12):
                    await cacher.create(key(f"w{i:02}"), widget(f"w{i:02}"))
                    await trio.testing.wait_all_tasks_blocked()  # the fast reader keeps up
            nursery.start_soon(write)
            assert len(await take(fast, 12)) == 12  # never blocked by the slow one
        received = []
        with pytest.raises(WatchTooSlowError) as info:
            with trio.fail_after(5):
                async for event in slow:
                    received.append(event)
        assert isinstance(info.value, ResourceExpiredError)  # a 410: the client re-watches
        assert [e.revision for e in received] == list(range(start + 1, start + 6))  # its buffer


async def test_bookmarks(cacher: Cacher, backend: CountingMemoryStorage) -> None:
    await cacher.create(key("a"), widget("a"))
    async with cacher.watch(PREFIX, revision=0, bookmarks=True) as events:
        await backend.create("/registry/gadgets/default/g", widget("g"))
        with trio.fail_after(5):
            event = await events.__anext__()
            while event.revision < await backend.current_revision():
                event = await events.__anext__()
        assert event.type == "BOOKMARK" and event.prev_object is None
        assert event.object == {"metadata": {"resourceVersion": str(event.revision)}}
    async with cacher.watch(PREFIX, revision=0) as events:  # none unless asked for
        with trio.move_on_after(0.2):
            await events.__anext__()
            pytest.fail("an event without asking for bookmarks")


async def test_a_bookmark_comes_two_seconds_before_the_deadline(
        backend: CountingMemoryStorage, autojump_clock: trio.testing.MockClock) -> None:
    """kube's cacheWatcher.nextBookmarkTime: a client re-watching after its timeout then starts
    from a recent resourceVersion, however long the bookmark interval (virtual time here)."""
    async with open_cacher(backend, PREFIX, bookmark_interval=60.0) as cacher:
        start = trio.current_time()
        async with cacher.watch(PREFIX, revision=0, bookmarks=True, deadline=start + 10) as events:
            event = await events.__anext__()
            assert event.type == "BOOKMARK" and trio.current_time() == pytest.approx(start + 8)
            with trio.move_on_at(start + 100):  # one only: the next would be after the deadline
                await events.__anext__()
                pytest.fail("a second bookmark")
        async with cacher.watch(PREFIX, revision=0, bookmarks=True, deadline=trio.current_time() + 1.5) as events:
            with trio.move_on_after(100):  # less than 2 s left: no pre-timeout bookmark at all
                await events.__anext__()
                pytest.fail("a bookmark for a watch about to end")


async def test_window_bounds_watches_from_the_past(cacher: Cacher) -> None:
    created = [await cacher.create(key(f"w{i:02}"), widget(f"w{i:02}")) for i in range(15)]
    await cacher.get_list(PREFIX)  # caught up
    assert cacher.floor == rv(created[4])  # 10 events kept
    with pytest.raises(ResourceExpiredError) as info:
        async with cacher.watch(PREFIX, revision=rv(created[3])):
            pass
    assert info.value.message == f"too old resource version: {rv(created[3])} ({cacher.floor})"
    async with cacher.watch(PREFIX, revision=rv(created[4])) as events:
        got = await take(events, 10)
    assert [e.object["metadata"]["name"] for e in got] == [f"w{i:02}" for i in range(5, 15)]


async def test_replayed_events_are_private_and_whole(cacher: Cacher) -> None:
    """The window keeps JSON: each watch from the past gets its own objects, with the previous
    state of a MODIFIED and the last state of a DELETED."""
    created = await cacher.create(key("a"), widget("a"))
    await cacher.guaranteed_update(key("a"), relabel("blue"))
    await cacher.delete(key("a"))
    await cacher.get_list(PREFIX)  # caught up
    async with cacher.watch(PREFIX, revision=rv(created) - 1) as events:
        first = await take(events, 3)
    first[0].object["metadata"]["name"] = "changed by one watcher"
    async with cacher.watch(PREFIX, revision=rv(created) - 1) as events:
        second = await take(events, 3)
    assert [e.type for e in second] == ["ADDED", "MODIFIED", "DELETED"]
    assert second[0].object["metadata"]["name"] == "a"
    assert is_blue(second[1].object) and not is_blue(second[1].prev_object)
    assert is_blue(second[2].object) and rv(second[2].object) == second[2].revision


async def test_reinitialized_cache_ends_watches_with_410(backend: CountingMemoryStorage,
                                                         cacher: Cacher) -> None:
    async with cacher.watch(PREFIX, revision=0) as events:
        cacher._reset(*await cacher._list_all())  # what a relist after a 410 does
        with pytest.raises(ResourceExpiredError, match="re-initialized"):
            with trio.fail_after(5):
                await events.__anext__()


async def test_close_ends_watches_but_not_the_backend(backend: CountingMemoryStorage) -> None:
    async with open_cacher(backend, PREFIX) as cacher:
        async with cacher.watch(PREFIX, revision=0) as events:
            await cacher.close()
            with trio.fail_after(5):
                assert [e async for e in events] == []
    await backend.health()
    obj: Object = await backend.create(key("a"), widget("a"))
    assert rv(obj) > 0


async def test_encoded_lists_hand_over_the_stored_json(cacher: Cacher) -> None:
    for i in range(5):
        await cacher.create(key(f"w{i}"), widget(f"w{i}"))
    decoded = await cacher.get_list(PREFIX, limit=3)
    encoded = await cacher.get_list(PREFIX, limit=3, encoded=True)
    assert all(isinstance(item, msgspec.Raw) for item in encoded.items)
    assert [msgspec.json.decode(item) for item in encoded.items] == decoded.items
    assert (encoded.revision, encoded.remaining) == (decoded.revision, decoded.remaining) == (
        decoded.revision, 2)
    rest = await cacher.get_list(PREFIX, encoded=True, continue_from=encoded.continue_from)
    assert names([msgspec.json.decode(item) for item in rest.items]) == ["w3", "w4"]
    # A predicate needs the objects: they come decoded, whatever was asked.
    blue = await cacher.get_list(PREFIX, predicate=lambda obj: True, encoded=True)
    assert all(isinstance(item, dict) for item in blue.items)


class LaggingMemoryStorage(MemoryStorage):
    """The memory store whose watch events wait for ``release``: a watch cache that falls
    behind the backend, as one does under load."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.release = trio.Event()
        self.release.set()

    def watch(self, prefix: str, **options: object):  # type: ignore[override]
        inner = super().watch(prefix, **options)  # type: ignore[arg-type]

        @contextlib.asynccontextmanager
        async def lagging():
            async with inner as events:
                async def held() -> AsyncIterator[object]:
                    async for event in events:
                        await self.release.wait()
                        yield event
                yield held()
        return lagging()


async def test_watch_from_now_on_a_lagging_cache_sees_only_later_events() -> None:
    # "From now" is after the backend's current revision even when the cache has not reached it
    # (it used to start from the cache's older revision once the freshness wait timed out).
    backend = LaggingMemoryStorage(history=1000)
    async with open_cacher(backend, PREFIX, fresh_timeout=0.05) as cacher:
        backend.release = trio.Event()  # the cache falls behind from here
        await backend.create(key("before"), widget("before"))
        async with cacher.watch(PREFIX, revision=0) as events:
            await backend.create(key("after"), widget("after"))
            backend.release.set()
            got = await take(events, 1)
            with trio.move_on_after(0.2):
                got += await take(events, 1)
        assert [e.object["metadata"]["name"] for e in got] == ["after"]
    await backend.close()


async def test_an_idle_watcher_takes_events_through_its_direct_sink_in_order(cacher: Cacher) -> None:
    # The HTTP layer's sink writes an event to the client while dispatching, but only while
    # the consumer waits with nothing in hand: what it declines, and everything after it until
    # the consumer has caught up, goes through the buffer, so the client sees revision order.
    await cacher.create(key("seed"), widget("seed"))
    start = await cacher.current_revision()
    delivered: list[tuple[str, int]] = []  # (how, revision) in the order the client gets them
    accept = True
    writing = trio.Event()  # the consumer's slow write of a buffered event, released by the test

    def sink(events: list[WatchEvent]) -> bool:
        if accept:
            delivered.extend(("direct", event.revision) for event in events)
        return accept

    async with cacher.watch(PREFIX, revision=start) as events:
        events.set_direct(sink)
        async with trio.open_nursery() as nursery:
            async def consume() -> None:
                async for event in events:
                    await writing.wait()
                    delivered.append(("buffered", event.revision))
            nursery.start_soon(consume)
            await trio.testing.wait_all_tasks_blocked()
            await cacher.create(key("a"), widget("a"))  # idle: the sink takes it
            await trio.testing.wait_all_tasks_blocked()  # (the cache has dispatched it)
            accept = False
            await cacher.create(key("b"), widget("b"))  # declined: buffered
            await trio.testing.wait_all_tasks_blocked()
            accept = True
            await cacher.create(key("c"), widget("c"))  # the consumer holds b: buffered too
            await trio.testing.wait_all_tasks_blocked()
            writing.set()
            await trio.testing.wait_all_tasks_blocked()  # b and c written, the consumer waits
            await cacher.create(key("d"), widget("d"))  # idle again: the sink
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
    assert delivered == [("direct", start + 1), ("buffered", start + 2),
                         ("buffered", start + 3), ("direct", start + 4)]


async def test_a_failing_direct_sink_falls_back_to_the_buffer(cacher: Cacher) -> None:
    await cacher.create(key("seed"), widget("seed"))
    start = await cacher.current_revision()
    calls = 0

    def sink(events: list[WatchEvent]) -> bool:
        nonlocal calls
        calls += 1
        raise RuntimeError("a bug in the sink")

    async with cacher.watch(PREFIX, revision=start) as events:
        events.set_direct(sink)
        async with trio.open_nursery() as nursery:
            got: list[int] = []

            async def consume() -> None:
                async for event in events:
                    got.append(event.revision)
            nursery.start_soon(consume)
            for name in ("a", "b"):
                await trio.testing.wait_all_tasks_blocked()
                await cacher.create(key(name), widget(name))
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
    assert got == [start + 1, start + 2] and calls == 1  # the cache went on; the sink was dropped


class HeldWatch(MemoryWatch):
    async def __anext__(self) -> WatchEvent:
        event = await super().__anext__()
        await self._store.go.wait()  # type: ignore[attr-defined]
        return event


class HeldMemoryStorage(MemoryStorage):
    """The memory store, whose watches the test can hold still (the cache's reflector waits
    with the next event in hand) so that several changes are due at once when it resumes."""

    def __init__(self) -> None:
        super().__init__(history=1000)
        self.go = trio.Event()
        self.go.set()

    def watch(self, prefix: str, *, revision: int, predicate: Predicate | None = None,
              bookmarks: bool = False, progress_notify: bool = False,
              deadline: float | None = None) -> HeldWatch:
        return HeldWatch(self, prefix, revision, predicate, progress_notify)


async def test_events_due_together_reach_a_caught_up_watcher_in_one_write() -> None:
    # The reflector takes every event the backend has ready and hands each watcher its share
    # in one call: an idle watcher's sink writes them as one write (kube flushes a watch only
    # when no more events wait); a filtered watcher gets only its own, in the same order.
    backend = HeldMemoryStorage()
    async with open_cacher(backend, PREFIX, watcher_buffer=10) as cacher:
        await cacher.create(key("seed"), widget("seed"))
        start = await cacher.current_revision()
        calls: dict[str, list[list[tuple[str, int]]]] = {"all": [], "blue": []}

        def sink(name: str) -> Callable[[list[WatchEvent]], bool]:
            def write(events: list[WatchEvent]) -> bool:
                calls[name].append([(e.type, e.revision) for e in events])
                return True
            return write

        async with cacher.watch(PREFIX, revision=start) as every, \
                cacher.watch(PREFIX, revision=start, predicate=is_blue) as blue:
            async with trio.open_nursery() as nursery:
                for name, events in (("all", every), ("blue", blue)):
                    events.set_direct(sink(name))
                    nursery.start_soon(take, events, 1)  # idle consumers: the sinks' turn
                await trio.testing.wait_all_tasks_blocked()
                backend.go = trio.Event()  # the reflector stops before its next event
                await trio.testing.wait_all_tasks_blocked()
                await backend.create(key("a"), widget("a"))
                await backend.guaranteed_update(key("seed"), relabel("blue"))
                await backend.create(key("b"), widget("b"))
                await backend.guaranteed_update(key("seed"), relabel("red"))
                await trio.testing.wait_all_tasks_blocked()
                assert calls == {"all": [], "blue": []}
                backend.go.set()
                with trio.fail_after(5):
                    assert await cacher.wait_for(start + 4)
                await trio.testing.wait_all_tasks_blocked()
                nursery.cancel_scope.cancel()
        assert calls["all"] == [[("ADDED", start + 1), ("MODIFIED", start + 2),
                                 ("ADDED", start + 3), ("MODIFIED", start + 4)]]
        assert calls["blue"] == [[("ADDED", start + 2), ("DELETED", start + 4)]]
    await backend.close()


async def test_a_declined_batch_is_buffered_whole_and_in_order() -> None:
    backend = HeldMemoryStorage()
    async with open_cacher(backend, PREFIX, watcher_buffer=10) as cacher:
        await cacher.create(key("seed"), widget("seed"))
        start = await cacher.current_revision()
        async with cacher.watch(PREFIX, revision=start) as events:
            events.set_direct(lambda batch: False)
            backend.go = trio.Event()
            await trio.testing.wait_all_tasks_blocked()
            for name in ("a", "b", "c"):
                await backend.create(key(name), widget(name))
            backend.go.set()
            with trio.fail_after(5):
                got = await take(events, 3)
        assert [e.revision for e in got] == [start + 1, start + 2, start + 3]
    await backend.close()
