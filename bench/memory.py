"""Memory of ``kernel serve`` under watch load, and after everything is deleted.

The load of issue 9: a kernel on the memory backend, ``--watchers`` concurrent watches of the
configmaps of one namespace (half over HTTP/2, half over HTTP/1.1; each re-watches from its last
resourceVersion when its ``timeoutSeconds`` ends, as informers do) and a writer that keeps about
``--objects`` configmaps alive with create/update/delete churn at ``--rate`` writes/s. Every
``--interval`` seconds it prints the server's RSS next to what the server holds (through
bench/memory_probe.py, which wraps the server process): the memory backend's history (retained
revisions and their deep size), the configmaps watch cache's event window, the number of
registered watchers, pymalloc's arenas (mapped vs used) and glibc's free-but-kept bytes.

Then it deletes every configmap, stops the watches, idles, and asks the server for ``gc.collect()``
+ ``malloc_trim(0)``; with ``--flush`` it finally pushes the history out with small writes to one
tiny object, to show what the history was holding. It ends with the conclusion's figures: RSS
growth while the bounded structures fill and after, and the cost of each bound per entry.

    python bench/memory.py [--load 240] [--rate 100] [--watchers 50] [--objects 300] [--flush]
                           [--history 10000] [--env PYTHONMALLOC=malloc]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio

from kernel.testing import KernelProcess, start_kernel

NAMESPACE_PATH = "/api/v1/namespaces/default/configmaps"
PROBE = str(Path(__file__).with_name("memory_probe.py"))
MB = 1 << 20


@dataclass
class Counters:
    writes: int = 0
    events: int = 0
    rewatches: int = 0
    relists: int = 0
    errors: list[str] = field(default_factory=list)


class Probe:
    """Reports from bench/memory_probe.py inside the server (signal, then read the file)."""

    def __init__(self, kernel: KernelProcess, directory: Path) -> None:
        self.pid = kernel.process.pid
        self.directory = directory
        self.count = 0

    def report(self, *, trim: bool = False) -> dict[str, Any]:
        self.count += 1
        path = self.directory / f"{self.count}.json"
        os.kill(self.pid, signal.SIGUSR2 if trim else signal.SIGUSR1)
        deadline = time.monotonic() + 60
        while not path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the memory probe did not answer")
            time.sleep(0.05)
        return json.loads(path.read_text())


def configmap(name: str, i: int, size: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"app": "memory-bench", "shard": str(i % 7)}},
            "data": {"value": f"{i:08d}" + "x" * size}}


async def writer(client: httpx.AsyncClient, args: argparse.Namespace, counters: Counters,
                 concurrency: int = 4) -> None:
    """Keep about ``args.objects`` configmaps: create below that, else update (70%) or delete."""
    alive: set[str] = set()
    serial = 0
    send, receive = trio.open_memory_channel[None](0)

    async def ticker() -> None:
        interval = 1 / args.rate
        next_at = trio.current_time()
        while True:
            await send.send(None)  # blocks while every worker is busy: the rate is a ceiling
            next_at = max(next_at + interval, trio.current_time() - 1)
            await trio.sleep_until(next_at)

    async def worker() -> None:
        nonlocal serial
        async for _ in receive:
            serial += 1
            i = serial
            if len(alive) < args.objects or not alive:
                name = f"cm-{i}"
                alive.add(name)
                response = await client.post(NAMESPACE_PATH, json=configmap(name, i, args.size))
            else:
                name = random.choice(sorted(alive))
                if random.random() < 0.7:
                    response = await client.patch(
                        f"{NAMESPACE_PATH}/{name}", content=json.dumps(
                            {"data": {"value": f"{i:08d}" + "y" * args.size}}),
                        headers={"content-type": "application/merge-patch+json"})
                else:
                    alive.discard(name)
                    response = await client.delete(f"{NAMESPACE_PATH}/{name}")
            if response.status_code >= 300 and response.status_code not in (404, 409):
                counters.errors.append(f"{response.status_code} {response.text[:200]}")
            counters.writes += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        for _ in range(concurrency):
            nursery.start_soon(worker)


async def watcher(client: httpx.AsyncClient, timeout: int, counters: Counters) -> None:
    """An informer's loop: list, then watch from the list's resourceVersion; re-watch from the
    last one seen when the watch times out; relist on an ERROR (410 Gone, too slow)."""
    rv = ""
    while True:
        if not rv:
            listed = (await client.get(NAMESPACE_PATH)).json()
            rv = listed["metadata"]["resourceVersion"]
            counters.relists += 1
        params = {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true",
                  "timeoutSeconds": str(timeout)}
        async with client.stream("GET", NAMESPACE_PATH, params=params) as response:
            async for line in response.aiter_lines():
                if not line:
                    continue
                event = json.loads(line)
                if event["type"] == "ERROR":
                    rv = ""
                    break
                rv = event["object"]["metadata"]["resourceVersion"]
                counters.events += event["type"] != "BOOKMARK"
        counters.rewatches += 1


def _client(kernel: KernelProcess, *, http2: bool) -> httpx.AsyncClient:
    import ssl
    return httpx.AsyncClient(base_url=kernel.url, http2=http2, timeout=httpx.Timeout(30, read=None),
                             headers={"Authorization": f"Bearer {kernel.token}"},
                             verify=ssl.create_default_context(cafile=kernel.ca_file))


def _row(t: float, label: str, r: dict[str, Any], counters: Counters | None = None) -> dict[str, Any]:
    store = r["store"]
    cache = next((c for c in r["caches"] if c["prefix"].endswith("/configmaps/")), None) or {}
    row = {"t": t, "label": label, "rss": r["rss"]["VmRSS"], "arena": r["pymalloc"]["arena_bytes"],
           "pyused": r["pymalloc"]["used"], "pyfree": r["pymalloc"]["free"],
           "glibc_free": r["glibc"]["free"], "glibc_used": r["glibc"]["in_use"],
           "revision": store.get("revision", 0), "log": store.get("log", 0),
           "store_bytes": store.get("bytes", 0), "live": store.get("live", 0),
           "window": cache.get("window", 0), "window_bytes": cache.get("window_bytes", 0),
           "cache_bytes": cache.get("objects_bytes", 0), "watchers": cache.get("watchers", 0),
           "writes": counters.writes if counters else 0, "events": counters.events if counters else 0,
           "conns": r["types"].get("PeerCertTCPServer", 0), "tasks": sum(r["tasks"].values()),
           "types": r["types"], "task_sites": r["tasks"]}
    print(f"{t:6.0f} {label:>7} {row['rss'] / MB:7.1f} {row['arena'] / MB:6.0f} "
          f"{row['pyused'] / MB:6.1f} {row['pyfree'] / MB:6.1f} {row['glibc_free'] / MB:6.1f} "
          f"{row['revision']:8d} {row['log']:6d} {row['store_bytes'] / MB:6.1f} "
          f"{row['window']:6d} {row['window_bytes'] / MB:6.1f} {row['live']:5d} "
          f"{row['watchers']:4d} {row['conns']:5d} {row['tasks']:5d} {row['events']:9d}",
          flush=True)
    return row


HEADER = ("     t   phase  RSS MB  arena  py-use py-free glibc-f revision   hist hist MB  "
          "window win MB  live wtch conns tasks    events")


async def load_phase(kernel: KernelProcess, probe: Probe, args: argparse.Namespace,
                     began: float) -> list[dict[str, Any]]:
    counters = Counters()
    rows: list[dict[str, Any]] = []
    clients = [_client(kernel, http2=n % 2 == 0) for n in range(args.watchers)]
    write_client = _client(kernel, http2=False)

    async def sample(label: str) -> None:
        report = await trio.to_thread.run_sync(probe.report)
        rows.append(_row(time.monotonic() - began, label, report, counters))

    try:
        async with trio.open_nursery() as watching:
            for n, client in enumerate(clients):
                # Spread the timeouts so re-watches are not synchronized (client-go randomizes).
                watching.start_soon(watcher, client, args.watch_timeout + n % 10, counters)
            async with trio.open_nursery() as writing:
                writing.start_soon(writer, write_client, args, counters)
                end = trio.current_time() + args.load
                while trio.current_time() < end:
                    await trio.sleep(min(args.interval, end - trio.current_time()))
                    await sample("load")
                writing.cancel_scope.cancel()
            # Delete while the watches still run, so the deletions go through the fan-out too.
            (await write_client.delete(NAMESPACE_PATH)).raise_for_status()
            await trio.sleep(2)
            await sample("deleted")
            watching.cancel_scope.cancel()
    finally:
        for client in [*clients, write_client]:
            await client.aclose()  # HTTP/2: GOAWAY (httpx does not reset a cancelled stream)
    print(f"# {counters.writes} writes, {counters.events} events to watchers, "
          f"{counters.rewatches} re-watches, {counters.relists} lists, "
          f"{len(counters.errors)} errors {counters.errors[:3]}", flush=True)
    return rows


async def flush_history(kernel: KernelProcess, writes: int) -> None:
    """Small updates to one tiny configmap until the history holds nothing else."""
    async with _client(kernel, http2=False) as client:
        await client.post(NAMESPACE_PATH, json={"metadata": {"name": "flush"}})
        counter = iter(range(writes))

        async def worker() -> None:
            for i in counter:
                await client.patch(f"{NAMESPACE_PATH}/flush", content=json.dumps(
                    {"data": {"i": str(i)}}),
                    headers={"content-type": "application/merge-patch+json"})

        async with trio.open_nursery() as nursery:
            for _ in range(8):
                nursery.start_soon(worker)


def slope(rows: list[dict[str, Any]], key: str) -> float:
    """Least-squares growth of ``key`` in bytes per minute over ``rows``."""
    if len(rows) < 2:
        return 0.0
    ts = [r["t"] for r in rows]
    return statistics.linear_regression(ts, [r[key] for r in rows]).slope * 60


def type_growth(first: dict[str, Any], last: dict[str, Any], top: int = 8) -> str:
    a, b = first["types"], last["types"]
    diffs = sorted(((b.get(k, 0) - a.get(k, 0), k) for k in set(a) | set(b)), reverse=True)
    return ", ".join(f"{k} {d:+d}" for d, k in diffs[:top] if d)


def conclude(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    load = [r for r in rows if r["label"] == "load"]
    full = [r for r in load if r["log"] >= args.history and r["window"] >= 1000]
    filling = [r for r in load if r not in full]
    print("\n# conclusion")
    first_full = full[0]["t"] if full else None
    print(f"history ({args.history} revisions) and watch cache window (1000 events) both full at "
          f"t={first_full:.0f} s" if full else "the bounded structures never filled: run longer")
    settled = full[len(full) // 2:]  # allocator free lists settle a while after the fill
    for name, part in (("while filling", filling), ("once full (later half)", settled)):
        if len(part) >= 2:
            print(f"RSS growth {name}: {slope(part, 'rss') / MB:+.2f} MB/min "
                  f"(history {slope(part, 'store_bytes') / MB:+.2f}, window "
                  f"{slope(part, 'window_bytes') / MB:+.2f}, pymalloc used "
                  f"{slope(part, 'pyused') / MB:+.2f}, arenas {slope(part, 'arena') / MB:+.2f}) "
                  f"over t={part[0]['t']:.0f}..{part[-1]['t']:.0f} s")
    if full:
        last = full[-1]
        per_revision = last["store_bytes"] / max(1, last["log"])
        per_event = last["window_bytes"] / max(1, last["window"])
        print(f"cost per bound entry at this object size ({args.size} B of data): "
              f"history {per_revision:.0f} B/revision x {last['log']} = "
              f"{last['store_bytes'] / MB:.1f} MB; window {per_event:.0f} B/event x "
              f"{last['window']} = {last['window_bytes'] / MB:.1f} MB")
        print(f"gc-tracked objects, first full sample -> end of load: {type_growth(full[0], last)}")
    by = {r["label"]: r for r in rows}
    for label in ("start", "deleted", "idle", "trimmed", "flushed"):
        if label in by:
            r = by[label]
            print(f"{label:>8}: RSS {r['rss'] / MB:6.1f} MB, pymalloc arenas {r['arena'] / MB:4.0f} "
                  f"MB ({r['pyused'] / MB:.1f} used), glibc free {r['glibc_free'] / MB:.1f} MB, "
                  f"history {r['store_bytes'] / MB:.1f} MB, window {r['window_bytes'] / MB:.1f} MB, "
                  f"watchers {r['watchers']}, connections {r['conns']}, tasks {r['tasks']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", type=float, default=240, help="seconds of load")
    parser.add_argument("--idle", type=float, default=20, help="seconds idle after deleting")
    parser.add_argument("--interval", type=float, default=10, help="seconds between samples")
    parser.add_argument("--rate", type=float, default=100, help="writes per second (ceiling)")
    parser.add_argument("--watchers", type=int, default=50)
    parser.add_argument("--objects", type=int, default=300)
    parser.add_argument("--size", type=int, default=256, help="bytes of data per configmap")
    parser.add_argument("--watch-timeout", type=int, default=30, help="timeoutSeconds of a watch")
    parser.add_argument("--history", type=int, default=10000, help="--storage-memory-history")
    parser.add_argument("--flush", action="store_true", help="push the history out at the end")
    parser.add_argument("--json", metavar="PATH", help="also write every sample (with object "
                        "counts by type and tasks) to PATH")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment of the server (PYTHONMALLOC=malloc, MALLOC_ARENA_MAX=2)")
    args = parser.parse_args()

    env = {**os.environ, **dict(item.split("=", 1) for item in args.env)}
    with tempfile.TemporaryDirectory() as tmp:
        probe_dir = Path(tmp) / "probe"
        probe_dir.mkdir()
        env["MEMORY_PROBE_DIR"] = str(probe_dir)
        kernel = start_kernel(Path(tmp) / "kernel", "--plugins=api_core,storage_memory",
                              f"--storage-memory-history={args.history}", env=env,
                              command_prefix=[sys.executable, PROBE])
        probe = Probe(kernel, probe_dir)
        began = time.monotonic()
        try:
            print(f"# {args.watchers} watches, ~{args.objects} configmaps of {args.size} B, "
                  f"{args.rate:g} writes/s for {args.load:g} s; history {args.history}; "
                  f"env {' '.join(args.env) or '-'}")
            print(HEADER)
            rows = [_row(0, "start", probe.report())]
            rows += trio.run(load_phase, kernel, probe, args, began)
            time.sleep(args.idle)
            rows.append(_row(time.monotonic() - began, "idle", probe.report()))
            rows.append(_row(time.monotonic() - began, "trimmed", probe.report(trim=True)))
            if args.flush:
                trio.run(flush_history, kernel, args.history + 10)
                rows.append(_row(time.monotonic() - began, "flushed", probe.report(trim=True)))
            conclude(rows, args)
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=1))
        finally:
            kernel.stop()


if __name__ == "__main__":
    main()
