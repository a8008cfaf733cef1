"""Run ``kernel serve`` with a memory probe: ``python bench/memory_probe.py <kernel> serve ...``.

bench/memory.py starts the kernel through this wrapper so it can look inside the server without a
debug hook in the kernel itself. On SIGUSR1 the probe writes a JSON report; on SIGUSR2 it first
runs ``gc.collect()`` and glibc's ``malloc_trim(0)``. Reports go to ``$MEMORY_PROBE_DIR/<n>.json``
(n counts from 1). A report holds:

- ``rss``: VmRSS / RssAnon of the process (kB → bytes);
- ``pymalloc``: CPython's small-object allocator (``sys._debugmallocstats``): arena bytes mapped,
  bytes in live blocks, and free bytes kept inside those arenas;
- ``glibc``: ``mallinfo2()``: bytes in use and free-but-kept by malloc (the heap and mmaps);
- ``store`` / ``caches``: the bounded structures (memory backend history, watch cache windows),
  with their entry counts and deep sizes in bytes;
- ``tasks``: live trio tasks by name and the line they wait at;
- ``types``: counts of gc-tracked objects by type, to diff for leaks.

The handlers run in the main thread between bytecodes (trio wakes up for signals), so the
structures are read while the event loop is paused: a consistent view.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import re
import runpy
import signal
import sys
import tempfile
import types
from typing import Any

_libc = ctypes.CDLL("libc.so.6")
_count = 0


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


_libc.mallinfo2.restype = _MallInfo2

# Containers walked by deep_size; anything else (types, modules, functions) is a leaf not counted.
_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def deep_size(*roots: Any) -> int:
    """Bytes of every object reachable from ``roots`` (each counted once), types excluded."""
    seen: set[int] = set()
    stack = list(roots)
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def _rss() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out


def _pymalloc() -> dict[str, int]:
    """sys._debugmallocstats writes to C stderr: catch it in a file for the figures we need."""
    with tempfile.TemporaryFile("w+") as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read()

    def figure(label: str) -> int:
        match = re.search(re.escape(label) + r"\s*=\s*([\d,]+)", text)
        return int(match.group(1).replace(",", "")) if match else 0

    arenas = figure("# arenas allocated current")
    unused_pools = re.search(r"([\d,]+) unused pools \* \d+ bytes\s*=\s*([\d,]+)", text)
    return {"arenas": arenas, "arena_bytes": arenas * (1 << 20),  # 1 MiB arenas (3.10+)
            "used": figure("# bytes in allocated blocks"),
            "free": figure("# bytes in available blocks")
            + (int(unused_pools.group(2).replace(",", "")) if unused_pools else 0)}


def _structures() -> dict[str, Any]:
    store: dict[str, Any] = {}
    caches = []
    for obj in gc.get_objects():
        name = type(obj).__name__
        if name == "MemoryStorage":
            versions = sum(len(v) for v in obj._versions.values())
            store = {"revision": obj._revision, "history": obj.history, "log": len(obj._log),
                     "keys": len(obj._versions), "live": len(obj._live), "versions": versions,
                     "bytes": deep_size(obj._log, obj._versions, obj._index, obj._live)}
        elif name == "Cacher" and (obj._window or obj._watchers or obj._keys):
            caches.append({"prefix": obj.prefix, "window": len(obj._window),
                           "window_bytes": deep_size(obj._window),
                           "objects": len(obj._keys),
                           "objects_bytes": deep_size(obj._keys, obj._objects),
                           "watchers": len(obj._watchers)})
    return {"store": store, "caches": caches}


def _tasks() -> dict[str, int]:
    """Live trio tasks by name and the line each one waits at (a task that outlives its
    connection or request shows up here)."""
    import trio

    counts: collections.Counter[str] = collections.Counter()
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
        where, coro = "", task.coro
        while coro is not None:  # follow the await chain to the innermost frame
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
            if frame is not None and f"{os.sep}trio{os.sep}" not in frame.f_code.co_filename:
                where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
            coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        counts[f"{task.name.rsplit('.', 1)[-1]} @ {where}"] += 1
    return dict(counts)


def _report(trim: bool) -> None:
    global _count
    if trim:
        gc.collect()
        _libc.malloc_trim(0)
    info = _libc.mallinfo2()
    report: dict[str, Any] = {
        "rss": _rss(), "pymalloc": _pymalloc(),
        "glibc": {"in_use": info.uordblks + info.hblkhd, "free": info.fordblks,
                  "heap": info.arena, "mmap": info.hblkhd}}
    gc.collect()  # after the memory figures: count what is alive, not garbage awaiting collection
    counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
    report.update(_structures(), tasks=_tasks(), types=dict(counts))
    _count += 1
    directory = os.environ["MEMORY_PROBE_DIR"]
    tmp = os.path.join(directory, f".{_count}.json")
    with open(tmp, "w") as out:
        json.dump(report, out)
    os.rename(tmp, os.path.join(directory, f"{_count}.json"))


def main() -> None:
    signal.signal(signal.SIGUSR1, lambda *_: _report(trim=False))
    signal.signal(signal.SIGUSR2, lambda *_: _report(trim=True))
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
