"""Requests awaited without worker threads: cancellation, concurrency and the completion thread."""

from __future__ import annotations

import threading

import trio

from kernel_storage_etcd3 import Etcd3Storage

KEY = "/registry/configmaps/default/x"


async def test_a_cancelled_request_leaves_the_store_usable(etcd_storage: Etcd3Storage) -> None:
    await etcd_storage.create(KEY, {"metadata": {"name": "x"}})
    for _ in range(50):  # cancelled at every stage: before sending, in flight, answered
        with trio.move_on_after(0):
            await etcd_storage.get(KEY)
        with trio.CancelScope() as scope:
            scope.cancel()
            await etcd_storage.get(KEY)
    await trio.sleep(0.2)  # late completions of the cancelled calls arrive and are ignored
    assert (await etcd_storage.get(KEY))["metadata"]["name"] == "x"


async def test_concurrent_requests_need_no_thread_each(etcd_storage: Etcd3Storage) -> None:
    await etcd_storage.get_list("/registry/configmaps/")  # the stream and its threads exist
    before = threading.active_count()
    names: list[str] = []

    async def create(i: int) -> None:
        created = await etcd_storage.create(f"/registry/configmaps/default/c{i}",
                                            {"metadata": {"name": f"c{i}"}})
        names.append(created["metadata"]["name"])

    async with trio.open_nursery() as nursery:
        for i in range(64):
            nursery.start_soon(create, i)
    assert sorted(names) == sorted(f"c{i}" for i in range(64))
    assert threading.active_count() <= before + 1  # trio.to_thread would have started up to 40
