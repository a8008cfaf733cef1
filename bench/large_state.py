"""Large state: a kernel on etcd holding 100k ConfigMaps and 10k Pods.

One etcd (Debian's etcd-server, data on tmpfs when /dev/shm exists). A first kernel creates one
ConfigMap and one Pod through the API; their stored bytes (as the API server wrote them) are the
template the state is loaded from, straight into etcd with pyetcd (transactions of 128 puts), each
copy with its own name, namespace and uid. ``--configmaps`` ConfigMaps and ``--pods`` Pods go into
10 namespaces, plus 100 of each in the namespace ``small`` (the small lists).

Then, ``--runs`` times, interleaved:

- startup: spawn of ``kernel serve --storage-backend=etcd3`` until ``/readyz`` answers 200 (every
  watch cache has listed its resource: the kernel starts serving only then), on the loaded etcd
  and, as the floor, on the same etcd under an empty ``--etcd-prefix``;
- memory: the server's RSS once ready, loaded less empty, per stored object, less the object's
  JSON (as the cache keeps it, with its resourceVersion);
- paging: LIST of every ConfigMap (and every Pod) of all namespaces with ``limit=500`` and the
  continue tokens, objects/s, against LIST of the 100 in ``small`` repeated for as long (the
  small-list rate), objects/s; one client, one keep-alive HTTP/1.1 connection, bodies decoded
  (items as raw JSON) only to follow the tokens and count. After one warm-up pass (the
  startup's own writes, kube-root-ca.crt, settle). Once more with a write after the first page:
  the cache's state is then past the pages' snapshot and etcd serves the rest.

With ``--baseline-rev REV`` (``main``, say) each run measures that revision's kernel too, first:
``git archive`` of it, run from the same venv with its sources first on the path. The server's
CPU seconds until ready are printed beside the wall clock: on a shared machine they are the
steadier figure.

Once, in this process: the ConfigMaps' watch cache alone (a Cacher over the etcd3 backend), its
memory per object over the JSON with tracemalloc, and how long its initial list took.

Targets (issue 18): paging ≥ 0.8 of the small-list rate per object; the cache ≤ 2.5 KiB per
object over its JSON; ready in < 10 s.

    python bench/large_state.py [--configmaps 100000] [--pods 10000] [--runs 3] [--rounds 2]
                                [--baseline-rev main] [--skip-cache]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import msgspec
import pyetcd
import trio

from kernel import testing as kernel_testing
from kernel.testing import KernelProcess, start_kernel
from kernel_storage_etcd3.testing import EtcdProcess, etcd_server, raw_client

NAMESPACES = [f"bench-{i}" for i in range(10)]
SMALL = "small"
PAGE = 500
TXN_OPS = 128  # etcd's default --max-txn-ops
CONFIGMAP = {"metadata": {"name": "template", "labels": {"app": "bench", "tier": "config"}},
             "data": {f"key-{i}": "v" * 100 for i in range(8)}}  # about 1 KiB of JSON stored
POD = {"metadata": {"name": "template", "labels": {"app": "bench", "tier": "web"}},
       "spec": {"containers": [{
           "name": "app", "image": "registry.example/app:1.0", "args": ["--port=8080", "--v=2"],
           "ports": [{"containerPort": 8080, "name": "http"}],
           "env": [{"name": f"ENV_{i}", "value": "x" * 20} for i in range(6)],
           "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                         "limits": {"cpu": "1", "memory": "512Mi"}},
           "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}}]}}


class _Page(msgspec.Struct):
    """What the client reads of a list: the token and the items, kept as raw JSON."""

    metadata: dict[str, Any]
    items: list[msgspec.Raw]


_page = msgspec.json.Decoder(_Page).decode


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (less sensitive to a shared machine than
    wall-clock time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the state ------------------------------------------------------------------------------------

def templates(kernel: KernelProcess, raw: pyetcd.MultiEndpointEtcd3Client) -> dict[str, dict]:
    """One ConfigMap and one Pod created through the API, as etcd holds them."""
    shapes = {}
    with kernel.client(timeout=30) as client:
        for namespace in [*NAMESPACES, SMALL]:
            client.post("/api/v1/namespaces", json={"metadata": {"name": namespace}}
                        ).raise_for_status()
        for resource, body in (("configmaps", CONFIGMAP), ("pods", POD)):
            client.post(f"/api/v1/namespaces/{SMALL}/{resource}", json=body).raise_for_status()
            value, _ = raw.get(f"/registry/{resource}/{SMALL}/template")
            shapes[resource] = msgspec.json.decode(value)
            raw.delete(f"/registry/{resource}/{SMALL}/template")
    return shapes


def load(raw: pyetcd.MultiEndpointEtcd3Client, resource: str, shape: dict, count: int) -> int:
    """``count`` copies of ``shape`` spread over NAMESPACES, and 100 in SMALL; bytes stored."""
    encode = msgspec.json.Encoder().encode
    txn = raw.transactions
    names = [(NAMESPACES[i % len(NAMESPACES)], f"{resource[:-1]}-{i:07d}") for i in range(count)]
    names += [(SMALL, f"{resource[:-1]}-{i:03d}") for i in range(100)]
    total = 0
    for start in range(0, len(names), TXN_OPS):
        puts = []
        for namespace, name in names[start:start + TXN_OPS]:
            meta = shape["metadata"]
            meta["name"], meta["namespace"], meta["uid"] = name, namespace, str(uuid.uuid4())
            value = encode(shape)
            total += len(value)
            puts.append(txn.put(f"/registry/{resource}/{namespace}/{name}", value))
        raw.transaction(compare=[], success=puts, failure=[])
    return total


# -- the measurements -----------------------------------------------------------------------------

class Build(NamedTuple):
    """The kernel measured: this tree's, or the tree of ``--baseline-rev`` (its sources put first
    on the path of the same venv)."""

    name: str
    command: tuple[str, ...] = (kernel_testing.KERNEL,)
    env: dict[str, str] | None = None


def baseline(rev: str, directory: Path) -> Build:
    """``rev`` of this repository extracted into ``directory``, run by a script there (so its
    ``kernel`` package comes first on the path), its api_core and storage_etcd3 first too."""
    tree = directory / "tree"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], check=True, capture_output=True,
                             cwd=Path(__file__).resolve().parent).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    launcher = tree / "run_kernel.py"
    launcher.write_text("import sys\nfrom kernel.cli import main\nsys.exit(main())\n")
    path = os.pathsep.join(str(tree / "plugins" / name) for name in ("api_core", "storage_etcd3"))
    return Build(f"baseline {rev}", (sys.executable, str(launcher)),
                 {**os.environ, "PYTHONPATH": path})


def start(workdir: Path, etcd: EtcdProcess, prefix: str,
          build: Build = Build("this tree")) -> tuple[KernelProcess, float]:
    """A kernel on ``etcd`` under ``prefix``, and the seconds from spawn to /readyz 200."""
    kernel_testing.START_TIMEOUT = 300  # a large state on a shared machine may take long
    began = time.perf_counter()
    kernel = start_kernel(workdir, "--storage-backend=etcd3", f"--etcd-servers={etcd.url}",
                          f"--etcd-prefix={prefix}", "--etcd-compaction-interval=0",
                          "--plugins=api_core,storage_etcd3", wait_ready=False,
                          command=build.command, env=build.env)
    deadline = began + 300
    with kernel.client(timeout=5) as client:
        while True:
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass  # a server busy for seconds (decoding a large list) times out the handshake
            if kernel.process.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"kernel never became ready:\n{kernel.log()[-4000:]}")
            time.sleep(0.01)
    return kernel, time.perf_counter() - began


class Paging(msgspec.Struct):
    """A paging pass and the small lists interleaved with it (objects and seconds of each)."""

    objects: int = 0
    pages: int = 0
    seconds: float = 0.0
    small_objects: int = 0
    small_seconds: float = 0.0

    @property
    def ratio(self) -> float:
        """Objects/s paging ÷ objects/s of the small lists."""
        return (self.objects / self.seconds) / (self.small_objects / self.small_seconds)


def get_list(client: Any, path: str, params: dict[str, Any]) -> _Page:
    response = client.get(path, params=params)
    if response.status_code != 200:
        raise RuntimeError(f"LIST answered {response.status_code}: {response.text[:500]}")
    return _page(response.content)


def page_all(client: Any, resource: str, poke: Any = None) -> Paging:
    """A list of every ``resource`` in pages of PAGE, and after each page LIST of the 100 in
    SMALL repeated until they took as long as the pages so far: both see the same load of
    the (shared) machine. ``poke()`` after the first page (a write: the cache's state moves
    past the pages' snapshot), not timed."""
    result = Paging()
    token = ""
    while True:
        began = time.perf_counter()
        page = get_list(client, f"/api/v1/{resource}",
                        {"limit": PAGE, **({"continue": token} if token else {})})
        result.seconds += time.perf_counter() - began
        result.objects += len(page.items)
        result.pages += 1
        if result.pages == 1 and poke is not None:
            poke()
        while result.small_seconds < result.seconds:
            began = time.perf_counter()
            small = get_list(client, f"/api/v1/namespaces/{SMALL}/{resource}", {})
            result.small_seconds += time.perf_counter() - began
            result.small_objects += len(small.items)
        token = page.metadata.get("continue", "")
        if not token:
            return result


def served_size(client: Any, resource: str) -> float:
    """Mean JSON size of one object as served (the cache keeps this form)."""
    body = client.get(f"/api/v1/namespaces/{SMALL}/{resource}").content
    items = _page(body).items
    return sum(len(bytes(item)) for item in items) / len(items)


def cache_memory(etcd: EtcdProcess) -> tuple[int, float]:
    """(objects, bytes per object over the JSON) of the ConfigMaps' watch cache alone, in this
    process, with tracemalloc."""
    from kernel.storage.cacher import open_cacher
    from kernel_storage_etcd3 import Etcd3Storage, EtcdConfig

    result: list[Any] = []

    async def main() -> None:
        backend = Etcd3Storage(EtcdConfig.for_servers(etcd.url))
        try:
            await backend.current_revision()  # connect before measuring
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            async with open_cacher(backend, "/registry/configmaps/") as cacher:
                gc.collect()
                held = tracemalloc.get_traced_memory()[0] - before
                tracemalloc.stop()
                json_bytes = sum(len(data) for data in cacher._objects.values())
                count = cacher.object_count
                result[:] = [count, (held - json_bytes) / count]
        finally:
            await backend.close()

    trio.run(main)
    return tuple(result)  # type: ignore[return-value]


def measure(work: Path, etcd: EtcdProcess, build: Build, args: argparse.Namespace,
            counts: dict[str, int], note: Any) -> None:
    """One run of ``build``: startup (and on an empty prefix), RSS, paging ratios."""
    tag = "" if build.name == "this tree" else f" [{build.name}]"
    total = sum(counts.values()) + 200
    empty, empty_s = start(work / "empty", etcd, "/empty", build)
    empty_rss = rss_kib(empty.process.pid)
    note(f"ready CPU s (empty){tag}", cpu_seconds(empty.process.pid))
    empty.stop()
    kernel, loaded_s = start(work / "loaded", etcd, "/registry", build)
    try:
        loaded_rss = rss_kib(kernel.process.pid)
        note(f"ready CPU s (loaded){tag}", cpu_seconds(kernel.process.pid))
        note(f"ready s (loaded){tag}", loaded_s)
        note(f"ready s (empty){tag}", empty_s)
        with kernel.client(timeout=300) as client:
            sizes = {r: served_size(client, r) for r in counts}
            json_total = sum(sizes[r] * (counts[r] + 100) for r in counts)
            note(f"RSS per object over JSON (B){tag}",
                 ((loaded_rss - empty_rss) * 1024 - json_total) / total)
            for resource in counts:  # warm-up; the startup's own writes settle
                page_all(client, resource)
            pokes = iter(range(1_000_000))

            def poke() -> None:
                client.patch(f"/api/v1/namespaces/{SMALL}/configmaps/configmap-000",
                             json={"metadata": {"annotations": {"poke": str(next(pokes))}}},
                             headers={"Content-Type": "application/merge-patch+json"}
                             ).raise_for_status()

            for _ in range(args.rounds):
                for resource in counts:
                    result = page_all(client, resource)
                    if result.objects < counts[resource] + 100:  # + each kube-root-ca.crt
                        raise RuntimeError(f"paged {result.objects} {resource}")
                    note(f"{resource} paged obj/s{tag}", result.objects / result.seconds)
                    note(f"{resource} small-list obj/s{tag}",
                         result.small_objects / result.small_seconds)
                    note(f"{resource} paged / small{tag}", result.ratio)
                    if resource == "configmaps":  # continue pages served by etcd
                        note(f"configmaps paged from etcd / small{tag}",
                             page_all(client, resource, poke).ratio)
    finally:
        kernel.stop()
    print(f"{build.name}: ready {loaded_s:.2f} s (empty store {empty_s:.2f} s), RSS "
          f"{loaded_rss / 1024:.0f} MiB (empty store {empty_rss / 1024:.0f} MiB)", flush=True)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3g} (min {min(values):.3g}, max {max(values):.3g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configmaps", type=int, default=100_000)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs (default 3)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="paging/small-list rounds per run (default 2)")
    parser.add_argument("--baseline-rev", default="",
                        help="also measure this git revision's kernel, interleaved (e.g. main)")
    parser.add_argument("--skip-cache", action="store_true",
                        help="skip the in-process tracemalloc measure of the cache")
    args = parser.parse_args()
    counts = {"configmaps": args.configmaps, "pods": args.pods}
    results: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    with etcd_server() as etcd, tempfile.TemporaryDirectory(prefix="bench-large-") as tmp:
        work = Path(tmp)
        raw = raw_client(etcd.url, timeout=60)
        probe, _ = start(work / "probe", etcd, "/registry")
        shapes = templates(probe, raw)
        probe.stop()
        began = time.perf_counter()
        stored = {resource: load(raw, resource, shapes[resource], count)
                  for resource, count in counts.items()}
        print(f"loaded {counts['configmaps']} configmaps and {counts['pods']} pods (+100 of each "
              f"in {SMALL}) into etcd in {time.perf_counter() - began:.1f} s; stored JSON: "
              + ", ".join(f"{r} {stored[r] / (counts[r] + 100):.0f} B" for r in counts))
        raw.close()
        builds = [Build("this tree")]
        if args.baseline_rev:
            builds.insert(0, baseline(args.baseline_rev, work / "baseline"))
        for run in range(args.runs):
            for build in builds:
                measure(work / f"{run}-{len(build.name)}", etcd, build, args, counts, note)
        if not args.skip_cache:
            objects, per_object = cache_memory(etcd)
            note("cache per object over JSON (B)", per_object)

    print(f"\n{counts['configmaps']} configmaps + {counts['pods']} pods, {args.runs} runs "
          f"(median, min, max); the machine's 2 cores were shared with other work")
    for name, values in results.items():
        print(f"  {name:<34} {spread(values)}")
    print("\ntargets:")
    for resource in counts:
        ratios = results[f"{resource} paged / small"]
        print(f"  {resource} paging at limit={PAGE} / LIST of 100: {spread(ratios)}  (floor 0.8)")
    print(f"  (configmaps paging with a write after the first page, the rest from etcd: "
          f"{spread(results['configmaps paged from etcd / small'])})")
    print(f"  ready with the state in etcd: {spread(results['ready s (loaded)'])} s  (under 10 s; "
          f"empty store {spread(results['ready s (empty)'])} s)")
    if "cache per object over JSON (B)" in results:
        print(f"  watch cache per object over its JSON: "
              f"{results['cache per object over JSON (B)'][0]:.0f} B (tracemalloc; at most 2560)")
    print(f"  server RSS per object over its JSON: "
          f"{spread(results['RSS per object over JSON (B)'])} B (at most 2560)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
