"""Watches on the sqlite store: a change is routed to the watches under its key at once, and
delivered only once its COMMIT returned; writes elsewhere wake none of them."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from kernel.storage.testing import PREFIX, key, widget

from kernel_storage_sqlite.store import SqliteStorage


class HeldSqliteStorage(SqliteStorage):
    """Holds back the writer's commit notices while ``hold`` is set (the test releases them)."""

    hold = False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.held: list[tuple[int, BaseException | None]] = []

    def _on_commit(self, revision: int, error: BaseException | None) -> None:
        if self.hold:
            self.held.append((revision, error))
            return
        super()._on_commit(revision, error)


async def test_a_change_is_delivered_once_committed_and_only_to_its_watches(tmp_path: Path) -> None:
    store = HeldSqliteStorage(tmp_path / "kernel.db")
    try:
        async with store.watch(PREFIX, revision=0) as events, \
                store.watch("/registry/gadgets/", revision=0) as gadgets, \
                trio.open_nursery() as nursery:
            got: list = []

            async def read() -> None:
                got.append(await events.__anext__())

            nursery.start_soon(read)
            await store.create("/registry/gadgets/default/g", widget("g"))  # committed
            await trio.testing.wait_all_tasks_blocked()
            assert got == [] and not events._queue and len(gadgets._queue) == 1
            store.hold = True
            nursery.start_soon(store.create, key("a"), widget("a"))
            with trio.fail_after(10):
                while not store.held:  # the writer thread committed; its notice is held back
                    await trio.sleep(0.01)
            await trio.testing.wait_all_tasks_blocked()
            assert got == [] and len(events._queue) == 1  # routed, not yet visible
            store.hold = False
            for revision, error in store.held:
                store._on_commit(revision, error)
            await trio.testing.wait_all_tasks_blocked()
            assert [(e.type, e.key) for e in got] == [("ADDED", key("a"))]
            assert got[0].revision == store._durable
    finally:
        await store.close()
