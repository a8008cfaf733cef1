"""In-process informers over a real watch cache on the memory backend: ordered handlers under
concurrent writes, initial adds, resync after a cache restart or a 410, indexers, slow handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio

from kernel.server.informers import Informer, InformerFactory
from kernel.storage.cacher import Cacher, open_cacher
from kernel.storage.interface import Object
from kernel.storage.testing import PREFIX, key, names, relabel, rv, take, widget

from kernel_storage_memory import MemoryStorage

GROUP, RESOURCE = "test.kernel.dev", "widgets"


@pytest.fixture
async def backend() -> AsyncIterator[MemoryStorage]:
    store = MemoryStorage(history=5000)
    yield store
    await store.close()


@pytest.fixture
async def cacher(backend: MemoryStorage) -> AsyncIterator[Cacher]:
    async with open_cacher(backend, PREFIX) as cacher:
        yield cacher


@pytest.fixture
async def factory(cacher: Cacher) -> AsyncIterator[InformerFactory]:
    factory = InformerFactory({(GROUP, RESOURCE): cacher}, retry_interval=0.05)
    async with trio.open_nursery() as nursery:
        await nursery.start(factory.run)
        yield factory
        nursery.cancel_scope.cancel()


class Recorder:
    """A handler that records what it is told, and the state it was led to believe in."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []
        self.state: dict[str, int] = {}  # name -> resourceVersion

    def add(self, obj: Object) -> None:
        name = obj["metadata"]["name"]
        assert name not in self.state, f"add of {name}, which this handler already has"
        self.events.append(("ADDED", name, rv(obj)))
        self.state[name] = rv(obj)

    def update(self, old: Object, new: Object) -> None:
        name = new["metadata"]["name"]
        assert self.state.get(name) == rv(old), f"update of {name} from a state not told"
        self.events.append(("MODIFIED", name, rv(new)))
        self.state[name] = rv(new)

    def delete(self, obj: Object) -> None:
        name = obj["metadata"]["name"]
        assert name in self.state, f"delete of {name}, which this handler does not have"
        self.events.append(("DELETED", name, rv(obj)))
        del self.state[name]

    def register(self, informer: Informer) -> Any:
        return informer.add_event_handler(self.add, self.update, self.delete)


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.005)


async def stored(backend: MemoryStorage) -> dict[str, int]:
    return {obj["metadata"]["name"]: rv(obj) for obj in (await backend.get_list(PREFIX)).items}


async def test_handlers_see_every_event_in_order(cacher: Cacher,
                                                 factory: InformerFactory) -> None:
    informer = factory.informer(GROUP, RESOURCE)
    plain, awaited = Recorder(), Recorder()
    plain.register(informer)

    async def add(obj: Object) -> None:
        await trio.sleep(0)
        awaited.add(obj)

    async def update(old: Object, new: Object) -> None:
        await trio.sleep(0)
        awaited.update(old, new)

    async def delete(obj: Object) -> None:
        awaited.delete(obj)
    informer.add_event_handler(add, update, delete)
    await informer.wait_synced()
    start = informer.revision

    async def writer(n: int) -> None:  # each writer creates, updates and deletes its own objects
        for i in range(10):
            name = f"w{n}-{i}"
            await cacher.create(key(name), widget(name))
            await cacher.guaranteed_update(key(name), relabel("blue"))
            if i % 3 == 0:
                await cacher.delete(key(name))

    async with cacher.watch(PREFIX, revision=start) as reference:
        async with trio.open_nursery() as nursery:
            for n in range(4):
                nursery.start_soon(writer, n)
        expected = [(e.type, e.object["metadata"]["name"], e.revision)
                    for e in await take(reference, 4 * (10 + 10 + 4))]
    await until(lambda: len(awaited.events) == len(expected))
    assert plain.events == expected  # the cache's order, every event, none twice
    assert awaited.events == expected
    assert informer.revision == expected[-1][2]
    assert names(informer.list()) == sorted(plain.state)


async def test_informer_created_after_writes_sees_them_as_adds(
        cacher: Cacher, factory: InformerFactory) -> None:
    for name in ("a", "b", "c"):
        await cacher.create(key(name), widget(name))
    await cacher.delete(key("b"))
    informer = factory.informer(GROUP, RESOURCE)
    assert factory.informer(GROUP, RESOURCE) is informer  # shared
    early = Recorder()
    early_registration = early.register(informer)
    await informer.wait_synced()
    assert informer.has_synced and names(informer.list()) == ["a", "c"]
    assert informer.get("a", "default")["metadata"]["name"] == "a"
    assert informer.get("b", "default") is None and informer.get("a") is None
    await early_registration.wait_synced()
    assert [(t, n) for t, n, _ in early.events] == [("ADDED", "a"), ("ADDED", "c")]

    late = Recorder()  # added after sync: the current objects as adds, then what follows
    registration = late.register(informer)
    await registration.wait_synced()
    assert [(t, n) for t, n, _ in late.events] == [("ADDED", "a"), ("ADDED", "c")]
    created = await cacher.create(key("d"), widget("d"))
    await until(lambda: len(late.events) == 3 and len(early.events) == 3)
    assert late.events[-1] == early.events[-1] == ("ADDED", "d", rv(created))


async def test_informer_objects_carry_no_managed_fields(
        backend: MemoryStorage, cacher: Cacher, factory: InformerFactory) -> None:
    """As kube-apiserver's informers (its trim transform): stored managedFields stay stored."""
    fields = [{"manager": "m", "operation": "Update", "fieldsType": "FieldsV1",
               "fieldsV1": {"f:spec": {}}}]
    listed = widget("listed", spec={"a": 1})
    listed["metadata"]["managedFields"] = fields
    await cacher.create(key("listed"), listed)
    informer = factory.informer(GROUP, RESOURCE)
    recorder = Recorder()
    await recorder.register(informer).wait_synced()
    watched = widget("watched", spec={"a": 2})
    watched["metadata"]["managedFields"] = fields
    await cacher.create(key("watched"), watched)
    await until(lambda: len(recorder.events) == 2)
    for name in ("listed", "watched"):
        obj = informer.get(name, "default")
        assert "managedFields" not in obj["metadata"] and obj["spec"] and obj["metadata"]["uid"]
        assert (await backend.get(key(name)))["metadata"]["managedFields"] == fields


async def test_informer_of_one_name_holds_only_that_name(
        cacher: Cacher, factory: InformerFactory) -> None:
    await cacher.create(key("a"), widget("a"))
    await cacher.create(key("b"), widget("b"))
    informer = factory.informer(GROUP, RESOURCE, "b")
    assert factory.informer(GROUP, RESOURCE, "b") is informer  # shared
    assert factory.informer(GROUP, RESOURCE) is not informer
    recorder = Recorder()
    await recorder.register(informer).wait_synced()
    assert names(informer.list()) == ["b"]
    await cacher.guaranteed_update(key("a"), relabel("blue"))
    updated = await cacher.guaranteed_update(key("b"), relabel("blue"))
    await cacher.delete(key("a"))
    await until(lambda: len(recorder.events) == 2)
    assert recorder.events == [("ADDED", "b", recorder.events[0][2]), ("MODIFIED", "b", rv(updated))]
    assert informer.revision >= rv(updated) and names(informer.list()) == ["b"]


async def test_resync_after_the_watch_cache_restarts(backend: MemoryStorage) -> None:
    """The cache closes; writes (deletes among them) happen while none runs; a new cache takes
    its place: the informer relists from it and tells handlers the difference."""
    caches: dict[tuple[str, str], Cacher] = {}
    factory = InformerFactory(caches, retry_interval=0.02)
    async with trio.open_nursery() as nursery:
        first = Cacher(backend, PREFIX)
        await nursery.start(first.run)
        caches[(GROUP, RESOURCE)] = first
        for name in ("a", "b", "c"):
            await first.create(key(name), widget(name))
        informer = factory.informer(GROUP, RESOURCE)
        recorder = Recorder()
        recorder.register(informer)
        await nursery.start(factory.run)
        await until(lambda: len(recorder.state) == 3)

        await first.close()
        await backend.delete(key("a"))
        await backend.guaranteed_update(key("b"), relabel("blue"))
        await backend.create(key("d"), widget("d"))
        await trio.sleep(0.1)  # the informer retries against the closed cache meanwhile
        assert names(informer.list()) == ["a", "b", "c"]  # what it last knew

        second = Cacher(backend, PREFIX)
        await nursery.start(second.run)
        caches[(GROUP, RESOURCE)] = second
        truth = await stored(backend)
        await until(lambda: recorder.state == truth)
        assert [(t, n) for t, n, _ in recorder.events[3:]] == [
            ("DELETED", "a"), ("MODIFIED", "b"), ("ADDED", "d")]  # c unchanged: not told again
        assert names(informer.list()) == ["b", "c", "d"] and informer.relists >= 1

        await second.create(key("e"), widget("e"))  # and it follows the new cache
        await until(lambda: "e" in recorder.state)
        await second.close()
        nursery.cancel_scope.cancel()


async def test_resync_after_a_410_from_the_cache(backend: MemoryStorage, cacher: Cacher,
                                                 factory: InformerFactory) -> None:
    for name in ("a", "b"):
        await cacher.create(key(name), widget(name))
    informer = factory.informer(GROUP, RESOURCE)
    recorder = Recorder()
    await recorder.register(informer).wait_synced()
    cacher._reset(*await cacher._list_all())  # what the cache does after its own 410
    await until(lambda: informer.relists == 1)
    updated = await cacher.guaranteed_update(key("a"), relabel("red"))
    await until(lambda: len(recorder.events) == 3)
    assert recorder.events[2] == ("MODIFIED", "a", rv(updated))  # no repeats of a or b


async def test_indexers_stay_correct(cacher: Cacher, factory: InformerFactory) -> None:
    informer = factory.informer(GROUP, RESOURCE)

    def color(obj: Object) -> list[str]:
        return [obj["metadata"].get("labels", {}).get("color", "none")]
    await cacher.create(key("x", "one"), widget("x", "one"))
    await informer.wait_synced()
    informer.add_indexer("color", color)  # over what is already there
    with pytest.raises(ValueError):
        informer.add_indexer("color", color)
    assert names(informer.by_index("color", "none")) == ["x"]

    async def write(coro: Any) -> None:
        revision = rv(await coro)
        await until(lambda: informer.revision >= revision)

    await write(cacher.create(key("y", "one"), widget("y", "one", metadata={
        "name": "y", "namespace": "one", "labels": {"color": "blue"}})))
    await write(cacher.create(key("z", "two"), widget("z", "two")))
    assert names(informer.list("one")) == ["x", "y"] and names(informer.list("two")) == ["z"]
    assert names(informer.by_index("namespace", "two")) == ["z"]
    assert names(informer.by_index("color", "blue")) == ["y"]
    assert names(informer.by_index("color", "none")) == ["x", "z"]

    await write(cacher.guaranteed_update(key("x", "one"), relabel("blue")))
    await write(cacher.guaranteed_update(key("y", "one"), relabel("red")))
    assert names(informer.by_index("color", "blue")) == ["x"]
    assert names(informer.by_index("color", "red")) == ["y"]
    assert names(informer.by_index("color", "none")) == ["z"]

    await write(cacher.delete(key("y", "one")))
    await write(cacher.delete(key("z", "two")))
    assert informer.by_index("color", "red") == [] and informer.list("two") == []
    assert names(informer.list("one")) == ["x"] and names(informer.by_index("color", "blue")) == ["x"]
    assert informer.by_index("color", "none") == []
    with pytest.raises(KeyError):
        informer.by_index("size", "big")


async def test_a_slow_handler_stalls_neither_the_cache_nor_the_store(
        backend: MemoryStorage) -> None:
    """The handlers' queue overflows: they are resynced from the store, converge, and the
    cache's watch of the informer is never dropped (no relist)."""
    async with open_cacher(backend, PREFIX, watcher_buffer=4) as cacher:
        factory = InformerFactory({(GROUP, RESOURCE): cacher}, buffer=3)
        informer = factory.informer(GROUP, RESOURCE)
        gate = trio.Event()
        recorder = Recorder()

        async def slow_add(obj: Object) -> None:
            await gate.wait()
            recorder.add(obj)
        informer.add_event_handler(slow_add, recorder.update, recorder.delete)
        async with trio.open_nursery() as nursery:
            await nursery.start(factory.run)
            await informer.wait_synced()
            last = 0
            for i in range(20):
                last = rv(await cacher.create(key(f"w{i:02}"), widget(f"w{i:02}")))
                if i % 4 == 0:
                    last = rv(await cacher.delete(key(f"w{i:02}")))
            await until(lambda: informer.revision == last)  # the store kept up
            assert len(informer) == 15 and informer.relists == 0
            gate.set()
            truth = await stored(backend)
            await until(lambda: recorder.state == truth)
            assert informer.resyncs >= 2 and informer.relists == 0
            nursery.cancel_scope.cancel()


async def test_a_failing_handler_does_not_stop_the_others(cacher: Cacher,
                                                          factory: InformerFactory) -> None:
    informer = factory.informer(GROUP, RESOURCE)

    def broken(obj: Object) -> None:
        raise RuntimeError("handler bug")
    informer.add_event_handler(on_add=broken)
    recorder = Recorder()
    recorder.register(informer)
    await informer.wait_synced()
    await cacher.create(key("a"), widget("a"))
    await cacher.create(key("b"), widget("b"))
    await until(lambda: set(recorder.state) == {"a", "b"})


async def test_an_unknown_resource_fails_at_once(factory: InformerFactory) -> None:
    with pytest.raises(KeyError):
        factory.informer("", "nothings")


async def test_an_informer_waits_for_its_cache_to_appear(cacher: Cacher) -> None:
    caches = {(GROUP, RESOURCE): cacher}
    factory = InformerFactory(caches, retry_interval=0.02)
    informer = factory.informer(GROUP, RESOURCE)
    del caches[(GROUP, RESOURCE)]  # e.g. the resource's cache is being replaced
    await cacher.create(key("a"), widget("a"))
    async with trio.open_nursery() as nursery:
        await nursery.start(factory.run)
        await trio.sleep(0.1)
        assert not informer.has_synced
        caches[(GROUP, RESOURCE)] = cacher
        with trio.fail_after(10):
            await informer.wait_synced()
        assert names(informer.list()) == ["a"]
        with pytest.raises(RuntimeError, match="already running"):
            await informer.run()
        nursery.cancel_scope.cancel()
