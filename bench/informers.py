"""Benchmark: in-process informers (kernel/informers.py) over a watch cache on the memory backend.

Memory per cached object: tracemalloc over building and syncing an informer of ``--objects``
objects of about 500 B of JSON each, against the floor: the same objects decoded by msgspec and
kept in a list (what any in-memory copy must pay). Handler latency after a write: ``--writes``
sequential updates, each timed from the write's start and from its return until an informer
handler runs, against the floor: a bare watch of the same cache read by one task. No assertions;
prints figures.

    .venv/bin/python bench/informers.py [--objects 1000] [--writes 2000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

import msgspec
import trio

from kernel.server.informers import Informer
from kernel.storage.cacher import Cacher, open_cacher
from kernel.storage.interface import Object

from kernel_storage_memory import MemoryStorage

PREFIX = "/registry/configmaps/"


def configmap(i: int) -> Object:
    """A ConfigMap of about 500 bytes of JSON once stored (uid, resourceVersion and all)."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"config-{i:05}", "namespace": f"ns-{i % 10}",
                         "uid": f"4f6b6c1e-0000-4000-8000-{i:012}",
                         "creationTimestamp": "2026-01-01T00:00:00Z",
                         "labels": {"app": f"app-{i % 7}", "tier": "backend"}},
            "data": {f"key{k}": "v" * 40 for k in range(6)}}


def traced(before: int) -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0] - before


async def memory(objects: int) -> None:
    backend = MemoryStorage(history=objects + 10)
    for i in range(objects):
        obj = configmap(i)
        await backend.create(f"{PREFIX}{obj['metadata']['namespace']}/{obj['metadata']['name']}",
                             obj)
    stored = (await backend.get_list(PREFIX)).items
    encoded = [msgspec.json.encode(obj) for obj in stored]
    json_bytes = sum(map(len, encoded)) / objects
    async with open_cacher(backend, PREFIX) as cacher:
        tracemalloc.start()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        floor_items = [msgspec.json.decode(raw) for raw in encoded]
        floor = traced(base)
        del floor_items
        base = traced(0)
        informer = Informer(cacher)
        async with trio.open_nursery() as nursery:
            await nursery.start(informer.run)
            await informer.wait_synced()
            while informer.resyncs == 0:  # the dispatcher has taken its view too
                await trio.sleep(0.01)
            used = traced(base)
            nursery.cancel_scope.cancel()
        tracemalloc.stop()
    await backend.close()
    print(f"memory, {objects} objects of {json_bytes:.0f} B of JSON each (tracemalloc)")
    print(f"  {'':34}{'bytes/object':>14}")
    print(f"  {'floor: decoded dicts in a list':34}{floor / objects:>14.0f}")
    print(f"  {'informer (store, indexes, views)':34}{used / objects:>14.0f}")
    print(f"  {'informer overhead over the floor':34}{(used - floor) / objects:>14.0f}"
          f"   ({used / floor:.2f}x the floor)")


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered) * 1e6:>10.0f}{p99 * 1e6:>10.0f}"


async def latency(writes: int) -> None:
    backend = MemoryStorage(history=writes + 10)
    key = f"{PREFIX}default/bench"
    await backend.create(key, configmap(0))
    async with open_cacher(backend, PREFIX) as cacher:
        floor = await timed_writes(cacher, key, writes, watcher=True)
        informer_times = await timed_writes(cacher, key, writes, watcher=False)
    await backend.close()
    print(f"\nhandler latency, {writes} sequential updates (µs)")
    print(f"  {'':42}{'median':>10}{'p99':>10}")
    for label, (from_start, from_return) in (("floor: bare cache watch", floor),
                                              ("informer on_update", informer_times)):
        print(f"  {label + ', from write start':42}{summary(from_start)}")
        print(f"  {label + ', from write return':42}{summary(from_return)}")


async def timed_writes(cacher: Cacher, key: str, writes: int,
                       watcher: bool) -> tuple[list[float], list[float]]:
    """Each write's time until the reader (a bare watch, or an informer's handler) has it."""
    arrived: dict[int, float] = {}
    seen = trio.Event()

    def note(revision: int) -> None:
        nonlocal seen
        arrived[revision] = time.perf_counter()
        seen.set()

    def bump(obj: Object) -> Object:
        obj["data"]["key0"] = str(int(time.perf_counter_ns()))
        return obj

    async with trio.open_nursery() as nursery:
        if watcher:
            async def read() -> None:
                async with cacher.watch(PREFIX, revision=0) as events:
                    async for event in events:
                        note(event.revision)
            nursery.start_soon(read)
            await trio.sleep(0.05)  # the watch is registered
        else:
            informer = Informer(cacher)
            informer.add_event_handler(on_update=lambda old, new: note(
                int(new["metadata"]["resourceVersion"])))
            await nursery.start(informer.run)
            await informer.wait_synced()
        from_start, from_return = [], []
        for _ in range(writes):
            seen = trio.Event()
            started = time.perf_counter()
            written = await cacher.guaranteed_update(key, bump)
            returned = time.perf_counter()
            revision = int(written["metadata"]["resourceVersion"])
            while revision not in arrived:
                await seen.wait()
                seen = trio.Event()
            from_start.append(arrived[revision] - started)
            from_return.append(max(0.0, arrived[revision] - returned))
        nursery.cancel_scope.cancel()
    return from_start, from_return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()
    trio.run(memory, args.objects)
    trio.run(latency, args.writes)


if __name__ == "__main__":
    main()
