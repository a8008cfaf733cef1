"""THE storage conformance suite: every Storage (backend or wrapper) must pass it.

Plugin authors import it as ``kernel.testing.contracts.StorageContract``, next to the other
contract suites.

Subclass :class:`StorageConformance` in the backend's tests and provide an async ``storage``
fixture yielding a fresh, empty store (a watch cache must cover :attr:`StorageConformance.prefix`)::

    class TestMyBackend(StorageConformance):
        @pytest.fixture
        async def storage(self):
            store = MyBackend(...)
            yield store
            await store.close()

The store must keep enough history for a few hundred writes; ``compact`` is used to expire it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

from kernel.storage.errors import (
    EXPIRED_LIST, INCONSISTENT_CONTINUE, ConflictError, InvalidContinueError, KeyExistsError,
    KeyNotFoundError, ResourceExpiredError, TooLargeResourceVersionError,
)
from kernel.storage.interface import Object, Preconditions, Storage, WatchEvent

PREFIX = "/registry/widgets/"


def widget(name: str, ns: str = "default", **fields: Any) -> Object:
    return {"apiVersion": "test.kernel.dev/v1", "kind": "Widget",
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}"}, **fields}


def key(name: str, ns: str = "default") -> str:
    return f"{PREFIX}{ns}/{name}"


def rv(obj: Object) -> int:
    return int(obj["metadata"]["resourceVersion"])


def names(items: list[Object]) -> list[str]:
    return [item["metadata"]["name"] for item in items]


async def take(events: AsyncIterator[WatchEvent], count: int, timeout: float = 5) -> list[WatchEvent]:
    """The next ``count`` non-BOOKMARK events."""
    out: list[WatchEvent] = []
    with trio.fail_after(timeout):
        while len(out) < count:
            event = await events.__anext__()
            if event.type != "BOOKMARK":
                out.append(event)
    return out


async def nothing_more(events: AsyncIterator[WatchEvent], wait: float = 0.2) -> None:
    with trio.move_on_after(wait):
        while True:
            event = await events.__anext__()
            assert event.type == "BOOKMARK", f"unexpected event {event.type} {event.object}"


def summary(events: list[WatchEvent]) -> list[tuple[str, str]]:
    return [(e.type, e.object["metadata"]["name"]) for e in events]


def is_blue(obj: Object) -> bool:
    return obj.get("metadata", {}).get("labels", {}).get("color") == "blue"


def relabel(color: str):
    def update(obj: Object) -> Object:
        obj["metadata"]["labels"] = {"color": color}
        return obj
    return update


class StorageConformance:
    """The behaviour every Storage shares (k8s.io/apiserver/pkg/storage/testing, in spirit)."""

    pytestmark = [pytest.mark.trio]
    prefix = PREFIX

    # -- create / get ------------------------------------------------------------------------

    async def test_create_and_get(self, storage: Storage) -> None:
        before = await storage.current_revision()
        given = widget("a", data={"x": 1})
        given["metadata"]["resourceVersion"] = "999"
        created = await storage.create(key("a"), given)
        assert rv(created) > before
        assert await storage.current_revision() == rv(created)
        assert created["data"] == {"x": 1} and created["metadata"]["name"] == "a"
        assert given["metadata"]["resourceVersion"] == "999", "the input must not be modified"
        got = await storage.get(key("a"))
        assert got == created
        got["data"]["x"] = 2  # the caller owns what it gets
        assert (await storage.get(key("a")))["data"] == {"x": 1}

    async def test_create_existing_fails_and_changes_nothing(self, storage: Storage) -> None:
        first = await storage.create(key("a"), widget("a", data={"v": 1}))
        with pytest.raises(KeyExistsError) as info:
            await storage.create(key("a"), widget("a", data={"v": 2}))
        assert info.value.key == key("a")
        assert await storage.get(key("a")) == first
        assert await storage.current_revision() == rv(first)

    async def test_missing_keys(self, storage: Storage) -> None:
        with pytest.raises(KeyNotFoundError) as info:
            await storage.get(key("nope"))
        assert info.value.key == key("nope")
        with pytest.raises(KeyNotFoundError):
            await storage.delete(key("nope"))
        with pytest.raises(KeyNotFoundError):
            await storage.guaranteed_update(key("nope"), lambda obj: obj)

    async def test_health_and_revision(self, storage: Storage) -> None:
        await storage.health()
        start = await storage.current_revision()
        await storage.create(key("a"), widget("a"))
        await storage.create(key("b"), widget("b"))
        assert await storage.current_revision() == start + 2

    # -- guaranteed_update -------------------------------------------------------------------

    async def test_update(self, storage: Storage) -> None:
        created = await storage.create(key("a"), widget("a", data={"v": 1}))
        seen: list[str] = []

        def bump(obj: Object) -> Object:
            seen.append(obj["metadata"]["resourceVersion"])
            obj["data"] = {"v": obj["data"]["v"] + 1}
            obj["metadata"]["resourceVersion"] = "1"  # ignored: storage sets it
            return obj

        updated = await storage.guaranteed_update(key("a"), bump)
        assert seen == [created["metadata"]["resourceVersion"]]
        assert updated["data"] == {"v": 2} and rv(updated) > rv(created)
        assert await storage.get(key("a")) == updated

    async def test_update_without_change_keeps_resource_version(self, storage: Storage) -> None:
        created = await storage.create(key("a"), widget("a", data={"v": 1}))
        same = await storage.guaranteed_update(key("a"), lambda obj: obj)
        assert same == created
        assert await storage.current_revision() == rv(created)

    async def test_update_aborted_by_try_update(self, storage: Storage) -> None:
        created = await storage.create(key("a"), widget("a", data={"v": 1}))

        async def refuse(obj: Object) -> Object:
            obj["data"] = {"v": 100}
            raise ValueError("no")

        with pytest.raises(ValueError, match="no"):
            await storage.guaranteed_update(key("a"), refuse)
        assert await storage.get(key("a")) == created

    async def test_update_ignore_not_found_creates(self, storage: Storage) -> None:
        given: list[Object] = []

        def fill(obj: Object) -> Object:
            given.append(obj)
            return widget("new", data={"v": 1})

        created = await storage.guaranteed_update(key("new"), fill, ignore_not_found=True)
        assert given == [{}]
        assert await storage.get(key("new")) == created

    async def test_update_preconditions(self, storage: Storage) -> None:
        created = await storage.create(key("a"), widget("a", data={"v": 1}))
        with pytest.raises(ConflictError) as info:
            await storage.guaranteed_update(key("a"), relabel("blue"),
                                            preconditions=Preconditions(uid="other"))
        assert info.value.message == ("Precondition failed: UID in precondition: other, "
                                      "UID in object meta: uid-default-a")
        assert "StorageError: invalid object, Code: 4" in str(info.value)
        with pytest.raises(ConflictError) as info:
            await storage.guaranteed_update(key("a"), relabel("blue"),
                                            preconditions=Preconditions(resource_version="999"))
        assert info.value.message == (
            "Precondition failed: ResourceVersion in precondition: 999, "
            f"ResourceVersion in object meta: {rv(created)}")
        assert await storage.get(key("a")) == created
        good = Preconditions(uid="uid-default-a", resource_version=str(rv(created)))
        updated = await storage.guaranteed_update(key("a"), relabel("blue"), preconditions=good)
        assert updated["metadata"]["labels"] == {"color": "blue"}

    async def test_concurrent_updates_lose_nothing(self, storage: Storage) -> None:
        await storage.create(key("counter"), widget("counter", data={"n": 0}))
        results: list[Object] = []

        async def increment(obj: Object) -> Object:
            await trio.sleep(0)  # let the other writers interleave between read and write
            obj["data"]["n"] += 1
            return obj

        async def writer() -> None:
            results.append(await storage.guaranteed_update(key("counter"), increment))

        async with trio.open_nursery() as nursery:
            for _ in range(20):
                nursery.start_soon(writer)
        final = await storage.get(key("counter"))
        assert final["data"]["n"] == 20
        assert sorted(r["data"]["n"] for r in results) == list(range(1, 21))
        assert len({rv(r) for r in results}) == 20

    # -- delete ------------------------------------------------------------------------------

    async def test_delete(self, storage: Storage) -> None:
        created = await storage.create(key("a"), widget("a", data={"v": 1}))
        deleted = await storage.delete(key("a"))
        assert deleted["data"] == {"v": 1} and rv(deleted) > rv(created)
        assert await storage.current_revision() == rv(deleted)
        with pytest.raises(KeyNotFoundError):
            await storage.get(key("a"))
        again = await storage.create(key("a"), widget("a", data={"v": 2}))
        assert rv(again) > rv(deleted)

    async def test_delete_preconditions_and_validation(self, storage: Storage) -> None:
        created = await storage.create(key("a"), widget("a"))
        with pytest.raises(ConflictError, match="UID in precondition: other"):
            await storage.delete(key("a"), preconditions=Preconditions(uid="other"))
        with pytest.raises(ConflictError, match="ResourceVersion in precondition: 999,"):
            await storage.delete(key("a"), preconditions=Preconditions(resource_version="999"))

        async def refuse(obj: Object) -> None:
            assert obj["metadata"]["name"] == "a"
            raise PermissionError("not now")

        with pytest.raises(PermissionError):
            await storage.delete(key("a"), validate_deletion=refuse)
        assert await storage.get(key("a")) == created
        deleted = await storage.delete(key("a"), validate_deletion=lambda obj: None,
                                       preconditions=Preconditions(uid="uid-default-a"))
        assert deleted["metadata"]["name"] == "a"

    # -- list --------------------------------------------------------------------------------

    async def test_empty_list_is_never_at_revision_zero(self, storage: Storage) -> None:
        empty = await storage.get_list(self.prefix)
        assert empty.items == [] and empty.continue_from is None
        assert empty.revision >= 1  # resourceVersion "0" means "any" to clients, as in etcd

    async def test_list_namespaces_do_not_overlap(self, storage: Storage) -> None:
        for ns, name in [("a", "x"), ("ab", "y"), ("a", "w"), ("b", "z")]:
            await storage.create(key(name, ns), widget(name, ns))
        everything = await storage.get_list(self.prefix)
        assert names(everything.items) == ["w", "x", "y", "z"]  # key order
        assert everything.revision == await storage.current_revision()
        assert everything.continue_from is None
        assert names((await storage.get_list(f"{self.prefix}a/")).items) == ["w", "x"]
        assert (await storage.get_list(f"{self.prefix}none/")).items == []

    async def test_list_with_predicate(self, storage: Storage) -> None:
        for i in range(6):
            obj = widget(f"w{i}")
            obj["metadata"]["labels"] = {"color": "blue" if i % 2 else "red"}
            await storage.create(key(f"w{i}"), obj)
        blue = await storage.get_list(self.prefix, predicate=is_blue)
        assert names(blue.items) == ["w1", "w3", "w5"] and blue.remaining is None

    async def test_list_at_past_revision(self, storage: Storage) -> None:
        await storage.create(key("a"), widget("a", data={"v": 1}))
        b = await storage.create(key("b"), widget("b"))
        past = rv(b)
        await storage.guaranteed_update(key("a"), lambda o: {**o, "data": {"v": 2}})
        await storage.delete(key("b"))
        await storage.create(key("c"), widget("c"))
        then = await storage.get_list(self.prefix, revision=past)
        assert then.revision == past
        assert names(then.items) == ["a", "b"] and then.items[0]["data"] == {"v": 1}
        assert rv(then.items[1]) == past
        now = await storage.get_list(self.prefix)
        assert names(now.items) == ["a", "c"] and now.items[0]["data"] == {"v": 2}

    async def test_list_too_old_or_too_new(self, storage: Storage) -> None:
        first = await storage.create(key("a"), widget("a"))
        await storage.create(key("b"), widget("b"))
        current = await storage.current_revision()
        await storage.compact(current)
        with pytest.raises(ResourceExpiredError) as info:
            await storage.get_list(self.prefix, revision=rv(first))
        assert info.value.message == EXPIRED_LIST
        assert names((await storage.get_list(self.prefix, revision=current)).items) == ["a", "b"]
        with pytest.raises(TooLargeResourceVersionError):
            await storage.get_list(self.prefix, revision=current + 1000)

    async def test_pagination_is_consistent_across_writes(self, storage: Storage) -> None:
        for i in range(5):
            await storage.create(key(f"a{i}"), widget(f"a{i}", data={"v": 1}))
        page = await storage.get_list(self.prefix, limit=2)
        assert names(page.items) == ["a0", "a1"] and page.remaining == 3
        assert page.continue_from
        snapshot = page.revision
        await storage.delete(key("a2"))
        await storage.guaranteed_update(key("a3"), lambda o: {**o, "data": {"v": 2}})
        await storage.create(key("a1x"), widget("a1x"))
        await storage.create(key("a5"), widget("a5"))
        page = await storage.get_list(self.prefix, limit=2, continue_from=page.continue_from)
        assert names(page.items) == ["a2", "a3"] and page.items[1]["data"] == {"v": 1}
        assert page.revision == snapshot and page.remaining == 1
        page = await storage.get_list(self.prefix, limit=2, continue_from=page.continue_from)
        assert names(page.items) == ["a4"] and page.continue_from is None
        assert page.remaining is None
        fresh = await storage.get_list(self.prefix)
        assert names(fresh.items) == ["a0", "a1", "a1x", "a3", "a4", "a5"]

    async def test_pagination_limit_counts_matching_items(self, storage: Storage) -> None:
        for i in range(7):
            obj = widget(f"w{i}")
            obj["metadata"]["labels"] = {"color": "blue" if i in (0, 3, 4, 6) else "red"}
            await storage.create(key(f"w{i}"), obj)
        seen, token, pages = [], None, 0
        while True:
            page = await storage.get_list(self.prefix, limit=2, continue_from=token,
                                          predicate=is_blue)
            seen += names(page.items)
            pages += 1
            assert len(page.items) <= 2 and page.remaining is None
            token = page.continue_from
            if token is None:
                break
        assert seen == ["w0", "w3", "w4", "w6"] and pages <= 3

    async def test_continue_after_compaction(self, storage: Storage) -> None:
        for name in ["a", "b", "c"]:
            await storage.create(key(name), widget(name))
        page = await storage.get_list(self.prefix, limit=1)
        await storage.create(key("d"), widget("d"))
        await storage.compact(await storage.current_revision())
        with pytest.raises(ResourceExpiredError) as info:
            await storage.get_list(self.prefix, limit=1, continue_from=page.continue_from)
        assert info.value.message == INCONSISTENT_CONTINUE
        assert info.value.continue_token
        rest = await storage.get_list(self.prefix, continue_from=info.value.continue_token)
        assert names(rest.items) == ["b", "c", "d"]
        assert rest.revision == await storage.current_revision()

    async def test_invalid_continue_token(self, storage: Storage) -> None:
        await storage.create(key("a"), widget("a"))
        for token in ["not base64!", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiIuLi94In0"]:
            with pytest.raises(InvalidContinueError, match="invalid continue token"):
                await storage.get_list(self.prefix, limit=1, continue_from=token)

    # -- watch -------------------------------------------------------------------------------

    async def test_watch_from_revision(self, storage: Storage) -> None:
        await storage.create(key("x"), widget("x", data={"v": 1}))
        start = await storage.current_revision()
        await storage.guaranteed_update(key("x"), lambda o: {**o, "data": {"v": 2}})
        await storage.create(key("y"), widget("y"))
        deleted = await storage.delete(key("x"))
        async with storage.watch(self.prefix, revision=start) as events:
            got = await take(events, 3)
            await nothing_more(events)
        assert summary(got) == [("MODIFIED", "x"), ("ADDED", "y"), ("DELETED", "x")]
        assert [e.revision for e in got] == [start + 1, start + 2, start + 3]
        assert [rv(e.object) for e in got] == [start + 1, start + 2, start + 3]
        assert got[0].prev_object is not None and got[0].prev_object["data"] == {"v": 1}
        assert got[0].object["data"] == {"v": 2} and got[1].prev_object is None
        assert got[2].object == deleted and got[2].object["data"] == {"v": 2}

    async def test_watch_live_events_in_order(self, storage: Storage) -> None:
        start = await storage.current_revision()
        async with storage.watch(self.prefix, revision=0) as events:
            async with trio.open_nursery() as nursery:
                async def write() -> None:
                    for i in range(150):
                        await storage.create(key(f"w{i:03}"), widget(f"w{i:03}"))
                nursery.start_soon(write)
                got = await take(events, 150)
        assert [e.revision for e in got] == list(range(start + 1, start + 151))
        assert {e.type for e in got} == {"ADDED"}

    async def test_watch_ready_hands_over_the_due_events_in_order(self, storage: Storage) -> None:
        # ``ready(limit)`` is optional: the events due now, without waiting (a watch cache
        # above the store dispatches them together). Never more than asked, never out of turn.
        async with storage.watch(self.prefix, revision=0) as events:
            ready = getattr(events, "ready", None)
            if ready is None:
                pytest.skip("this store's watches have no ready()")
            assert ready(10) == []
            for name in "abcde":
                await storage.create(key(name), widget(name))
            got = await take(events, 1)
            with trio.fail_after(5):
                while len(got) < 5:  # a remote store's events may still be arriving
                    more = ready(2)
                    assert len(more) <= 2
                    got += more
                    if not more:
                        await trio.sleep(0.01)
            assert ready(10) == []
            await storage.create(key("f"), widget("f"))
            got += await take(events, 1)
        assert summary(got) == [("ADDED", name) for name in "abcdef"]

    async def test_watch_from_now_and_prefix(self, storage: Storage) -> None:
        await storage.create(key("before", "a"), widget("before", "a"))
        async with storage.watch(f"{self.prefix}a/", revision=0) as events:
            await storage.create(key("other", "ab"), widget("other", "ab"))
            await storage.create(key("after", "a"), widget("after", "a"))
            got = await take(events, 1)
            await nothing_more(events)
        assert summary(got) == [("ADDED", "after")]

    async def test_watch_too_old(self, storage: Storage) -> None:
        first = await storage.create(key("a"), widget("a"))
        await storage.create(key("b"), widget("b"))
        await storage.compact(await storage.current_revision())
        with pytest.raises(ResourceExpiredError):
            async with storage.watch(self.prefix, revision=rv(first)) as events:
                await take(events, 1)

    async def test_watch_predicate(self, storage: Storage) -> None:
        await storage.create(key("seed"), widget("seed"))  # revision 0 would mean "from now"
        start = await storage.current_revision()
        await storage.create(key("w"), {**widget("w"), "data": {"v": 0}})
        await storage.guaranteed_update(key("w"), relabel("blue"))  # starts matching
        await storage.guaranteed_update(key("w"), lambda o: {**o, "data": {"v": 1}})
        left = await storage.guaranteed_update(key("w"), relabel("red"))  # stops matching
        await storage.delete(key("w"))  # not matching: not seen
        blue = widget("v")
        blue["metadata"]["labels"] = {"color": "blue"}
        await storage.create(key("v"), blue)
        await storage.delete(key("v"))
        async with storage.watch(self.prefix, revision=start, predicate=is_blue) as events:
            got = await take(events, 5)
            await nothing_more(events)
        assert summary(got) == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w"),
                                ("ADDED", "v"), ("DELETED", "v")]
        gone = got[2]
        assert gone.revision == rv(left) and rv(gone.object) == rv(left)
        assert gone.object["metadata"]["labels"] == {"color": "blue"}  # its last matching state
        assert gone.object["data"] == {"v": 1}
        assert got[4].object["metadata"]["labels"] == {"color": "blue"}

    async def test_watch_ends_when_context_exits(self, storage: Storage) -> None:
        async with storage.watch(self.prefix, revision=0) as events:
            pass
        with trio.fail_after(5):
            with pytest.raises(StopAsyncIteration):
                await events.__anext__()
        # A consumer blocked on a watch is cancellable.
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                async def consume() -> None:
                    async with storage.watch(self.prefix, revision=0) as events:
                        async for _ in events:
                            pass
                nursery.start_soon(consume)
                await trio.sleep(0.05)
                nursery.cancel_scope.cancel()

    async def test_close_ends_watches(self, storage: Storage) -> None:
        ended = trio.Event()

        async def consume(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            async with storage.watch(self.prefix, revision=0) as events:
                task_status.started()
                async for _ in events:
                    pass
            ended.set()

        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                await nursery.start(consume)
                await storage.close()
                await ended.wait()
