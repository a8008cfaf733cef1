"""CREATE and GET through the kernel on etcd3, as ratios of what a raw etcd client gets.

One etcd (Debian's etcd-server, data on tmpfs when /dev/shm exists) serves both sides in the same
run: the floor is the pyetcd client doing put / get of 1 KiB values on it directly (and, for
reference, the compare-and-swap transaction a create really is); the kernel is ``kernel serve
--storage-backend=etcd3`` on the same etcd, driven over HTTPS with keep-alive connections: POST
of a ConfigMap with 1 KiB of data, and GET of one by name. For context the same requests also go
to a second kernel on the memory backend: the difference between the two kernels is what etcd
and the backend add, the rest is the HTTP/API path. Each series runs at concurrency 1 and 8
(threads, one connection each); series are interleaved round by round so that drift of the
machine affects all of them alike; the table shows median rates over the rounds.

The HTTP series carry the whole API path, which on a shared machine varies more between rounds
than etcd's share of it, so the backend is also measured alone: ``storage create`` / ``storage
get`` are Etcd3Storage.create / get called in-process from trio tasks (one store, ``c`` tasks),
as the server calls them. The targets of issue 18 are read per request: (kernel on etcd − kernel
on memory) and the storage call alone, each ÷ the raw CAS txn (CREATE) or raw get (GET).

With ``--before DIR`` (an older tree: ``git archive REV kernel plugins | tar -x -C DIR``) a third
kernel on the same etcd runs that tree's code through ``bench/run_tree.py`` in the same rounds
("before CREATE" / "before GET"), and the targets are printed for it too.

Then, since the throughput of one series in one second at c=1 swings with whatever else the
machine does in that second, the c=1 series are measured again request by request in turn
(``--requests`` each: raw CAS txn, kernel CREATE, memory CREATE, ..., then again) and the
targets are printed from the median latencies too.

    python bench/etcd.py [--rounds 3] [--seconds 1] [--concurrency 1,8] [--before DIR] [--requests 1000]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import functools
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import pyetcd
import trio

from kernel.testing import KernelProcess, start_kernel
from kernel_storage_etcd3 import Etcd3Storage, EtcdConfig
from kernel_storage_etcd3.testing import etcd_server, raw_client

VALUE = "v" * 1024
STORAGE_PREFIX = "/bench-storage"  # the --etcd-prefix of the storage series


def STORAGE(thread: int) -> Callable[[int], None]:
    """Marks a series measured with Workloads.storage_rate (trio tasks), not rate() (threads)."""
    raise NotImplementedError
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@dataclass
class Series:
    name: str
    rates: dict[int, list[float]] = field(default_factory=dict)  # concurrency → ops/s per round

    def median(self, concurrency: int) -> float:
        return statistics.median(self.rates[concurrency])


def rate(make_op: Callable[[int], Callable[[int], None]], concurrency: int, seconds: float) -> float:
    """Operations per second of ``concurrency`` threads, each running ``make_op(thread)(i)``."""
    counts = [0] * concurrency
    start_line = threading.Barrier(concurrency + 1)
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        op = make_op(index)
        start_line.wait()
        i = 0
        try:
            while not stop.is_set():
                op(i)
                i += 1
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        counts[index] = i

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(counts) / (time.perf_counter() - began)


class Workloads:
    """The measured operations: ``make(thread)`` gives a thread its ``op(i)`` (see :func:`rate`)."""

    def __init__(self, raw: pyetcd.MultiEndpointEtcd3Client,
                 kernels: dict[str, KernelProcess], etcd_url: str) -> None:
        self.raw, self.kernels, self.etcd_url = raw, kernels, etcd_url
        self.serial = itertools.count()  # unique names across rounds and threads

    def ops(self) -> dict[str, Callable[[int], Callable[[int], None]]]:
        ops = {"etcd put": self.raw_put, "etcd CAS txn": self.raw_txn,
               "kernel CREATE": self.kernel_create, "storage create": STORAGE,
               "etcd get": self.raw_get, "kernel GET": self.kernel_get, "storage get": STORAGE,
               "memory CREATE": lambda t: self.kernel_create(t, "memory"),
               "memory GET": lambda t: self.kernel_get(t, "memory")}
        if "before" in self.kernels:
            ops["before CREATE"] = lambda t: self.kernel_create(t, "before")
            ops["before GET"] = lambda t: self.kernel_get(t, "before")
        return ops

    def storage_rate(self, name: str, concurrency: int, seconds: float) -> float:
        """Operations per second of ``concurrency`` trio tasks calling one Etcd3Storage."""
        async def run() -> float:
            store = Etcd3Storage(EtcdConfig.for_servers(self.etcd_url, prefix=STORAGE_PREFIX))
            count = 0

            async def create() -> None:
                name = f"s-{next(self.serial)}"
                await store.create(f"/registry/configmaps/default/{name}",
                                   {"metadata": {"name": name}, "data": {"v": VALUE}})

            async def get() -> None:
                await store.get("/registry/configmaps/default/fixed")

            op = create if name == "storage create" else get

            async def task() -> None:
                nonlocal count
                while True:
                    await op()
                    count += 1

            try:
                async with trio.open_nursery() as nursery:
                    for _ in range(concurrency):
                        nursery.start_soon(task)
                    began = trio.current_time()
                    await trio.sleep(seconds)
                    nursery.cancel_scope.cancel()
                return count / (trio.current_time() - began)
            finally:
                await store.close()
        return trio.run(run)

    def seed(self) -> None:
        """What the GETs read: 100 raw keys, and 100 configmaps on each kernel."""
        for i in range(100):
            self.raw.put(f"/bench/raw/{i}", VALUE)
        self.raw.put(f"{STORAGE_PREFIX}/configmaps/default/fixed",
                     msgspec.json.encode({"metadata": {"name": "fixed"}, "data": {"v": VALUE}}))
        for backend in self.kernels:
            with self.http_client(backend) as client:
                for i in range(100):
                    client.post(CONFIGMAPS, json={"metadata": {"name": f"fixed-{i}"},
                                                  "data": {"v": VALUE}}).raise_for_status()

    def http_client(self, backend: str = "etcd3") -> httpx.Client:
        return self.kernels[backend].client(timeout=30)

    def raw_put(self, thread: int) -> Callable[[int], None]:
        return lambda i: self.raw.put(f"/bench/raw/{next(self.serial)}", VALUE)

    def raw_txn(self, thread: int) -> Callable[[int], None]:
        txn = self.raw.transactions

        def op(i: int) -> None:
            key = f"/bench/txn/{next(self.serial)}"
            self.raw.transaction(compare=[txn.mod(key) == 0], success=[txn.put(key, VALUE)],
                                 failure=[])
        return op

    def raw_get(self, thread: int) -> Callable[[int], None]:
        return lambda i: self.raw.get(f"/bench/raw/{i % 100}")

    def kernel_create(self, thread: int, backend: str = "etcd3") -> Callable[[int], None]:
        client = self.http_client(backend)

        def op(i: int) -> None:
            body = {"metadata": {"name": f"cm-{next(self.serial)}"}, "data": {"v": VALUE}}
            response = client.post(CONFIGMAPS, json=body)
            if response.status_code != 201:
                raise RuntimeError(f"POST answered {response.status_code}: {response.text}")
        return op

    def kernel_get(self, thread: int, backend: str = "etcd3") -> Callable[[int], None]:
        client = self.http_client(backend)

        def op(i: int) -> None:
            response = client.get(f"{CONFIGMAPS}/fixed-{i % 100}")
            if response.status_code != 200:
                raise RuntimeError(f"GET answered {response.status_code}: {response.text}")
        return op


LATENCY_OPS = ("etcd CAS txn", "kernel CREATE", "memory CREATE", "before CREATE",
               "etcd get", "kernel GET", "memory GET", "before GET")


def interleaved_latencies(ops: dict[str, Callable[[int], Callable[[int], None]]],
                          requests: int) -> dict[str, float]:
    """Median ms of one request of each series at concurrency 1, the series taking turns request
    by request, so that drift and hiccups of a shared machine fall on all of them alike."""
    chosen = {name: ops[name](0) for name in LATENCY_OPS if name in ops}
    times: dict[str, list[float]] = {name: [] for name in chosen}
    for i in range(requests):
        for name, op in chosen.items():
            began = time.perf_counter()
            op(i)
            times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def measure(args: argparse.Namespace,
            levels: list[int]) -> tuple[dict[str, Series], dict[str, float]]:
    """Every series, interleaved round by round, against one etcd and two kernels."""
    with etcd_server() as etcd, tempfile.TemporaryDirectory(prefix="bench-etcd-") as tmp:
        on_etcd = start_kernel(Path(tmp) / "etcd3", "--storage-backend=etcd3",
                               f"--etcd-servers={etcd.url}", "--etcd-compaction-interval=0")
        on_memory = start_kernel(Path(tmp) / "memory", "--storage-backend=memory")
        raw = raw_client(etcd.url)
        kernels = {"etcd3": on_etcd, "memory": on_memory}
        if args.before:
            run_tree = str(Path(__file__).with_name("run_tree.py"))
            kernels["before"] = start_kernel(
                Path(tmp) / "before", "--storage-backend=etcd3", f"--etcd-servers={etcd.url}",
                "--etcd-compaction-interval=0", "--etcd-prefix=/before",
                command=[sys.executable, run_tree, args.before, str(Path(sys.executable).with_name("kernel"))])
        work = Workloads(raw, kernels, etcd.url)
        work.seed()
        ops = work.ops()
        series = {name: Series(name) for name in ops}
        try:
            rate(work.kernel_get, 1, 0.5)  # warm-up
            for _ in range(args.rounds):
                for concurrency in levels:
                    for name, make_op in ops.items():
                        measured = (work.storage_rate(name, concurrency, args.seconds)
                                    if make_op is STORAGE
                                    else rate(make_op, concurrency, args.seconds))
                        series[name].rates.setdefault(concurrency, []).append(measured)
            latencies = interleaved_latencies(ops, args.requests) if args.requests else {}
        finally:
            raw.close()
            for kernel in kernels.values():
                kernel.stop()
    return series, latencies


def report(series: dict[str, Series], args: argparse.Namespace, levels: list[int]) -> None:
    print(f"kernel on etcd3 vs a raw etcd client on the same etcd, {args.rounds} rounds x "
          f"{args.seconds:g} s, 1 KiB values (ops/s, median; 'memory': a kernel on the memory "
          "backend)")
    print(f"{'':<16}" + "".join(f"{f'c={c}':>12}" for c in levels))
    for item in series.values():
        print(f"{item.name:<16}" + "".join(f"{item.median(c):12.0f}" for c in levels))
    print(f"\n{'ratio (medians)':<32}" + "".join(f"{f'c={c}':>12}" for c in levels))
    for kernel, floor in (("kernel CREATE", "etcd put"), ("kernel CREATE", "etcd CAS txn"),
                          ("kernel GET", "etcd get"), ("kernel CREATE", "memory CREATE"),
                          ("kernel GET", "memory GET")):
        ratios = "".join(f"{series[kernel].median(c) / series[floor].median(c):12.2f}"
                         for c in levels)
        print(f"{kernel} / {floor}".ljust(32) + ratios)
    print(f"\n{'etcd cost per request (ms)':<32}" + "".join(f"{f'c={c}':>12}" for c in levels))
    cost = functools.partial(_ms_per_request, series)
    for label, values in (
            ("raw CAS txn", lambda c: cost("etcd CAS txn", c)),
            ("raw get", lambda c: cost("etcd get", c)),
            ("kernel CREATE - memory CREATE", lambda c: cost("kernel CREATE", c) - cost("memory CREATE", c)),
            ("kernel GET - memory GET", lambda c: cost("kernel GET", c) - cost("memory GET", c)),
            ("storage create", lambda c: cost("storage create", c)),
            ("storage get", lambda c: cost("storage get", c))):
        print(label.ljust(32) + "".join(f"{values(c):12.3f}" for c in levels))
    print(f"\n{'target ratios (<= 1.2)':<36}" + "".join(f"{f'c={c}':>12}" for c in levels))
    rows = [("CREATE: (kernel-memory) / CAS", ("kernel CREATE", "memory CREATE"), "etcd CAS txn"),
            ("GET: (kernel-memory) / get", ("kernel GET", "memory GET"), "etcd get")]
    if "before GET" in series:
        rows += [("before: CREATE (kernel-memory) / CAS", ("before CREATE", "memory CREATE"), "etcd CAS txn"),
                 ("before: GET (kernel-memory) / get", ("before GET", "memory GET"), "etcd get")]
    for label, over, floor in (*rows,
                               ("storage create / CAS txn", ("storage create", None), "etcd CAS txn"),
                               ("storage get / get", ("storage get", None), "etcd get")):
        def ratio(c: int) -> float:
            extra = cost(over[0], c) - (cost(over[1], c) if over[1] else 0.0)
            return extra / cost(floor, c)
        print(label.ljust(36) + "".join(f"{ratio(c):12.2f}" for c in levels))


def report_latencies(latencies: dict[str, float], requests: int) -> None:
    print(f"\nc=1, request by request in turn ({requests} each): median ms per request")
    for name, ms in latencies.items():
        print(f"{name:<32}{ms:12.3f}")
    print(f"\n{'target ratios from these (<= 1.2)':<36}")
    for label, kernel, floor in (("CREATE: (kernel-memory) / CAS", "kernel CREATE", "etcd CAS txn"),
                                 ("GET: (kernel-memory) / get", "kernel GET", "etcd get"),
                                 ("before: CREATE (kernel-memory) / CAS", "before CREATE", "etcd CAS txn"),
                                 ("before: GET (kernel-memory) / get", "before GET", "etcd get")):
        if kernel in latencies:
            memory = "memory " + kernel.split()[1]
            print(label.ljust(36) + f"{(latencies[kernel] - latencies[memory]) / latencies[floor]:12.2f}")


def _ms_per_request(series: dict[str, Series], name: str, concurrency: int) -> float:
    """Milliseconds of one request of ``name`` at ``concurrency`` (from its median rate)."""
    return 1000.0 * concurrency / series[name].median(concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every series (default 3)")
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement (default 1)")
    parser.add_argument("--concurrency", default="1,8", help="thread counts (default 1,8)")
    parser.add_argument("--before", help="an older tree's kernel on the same etcd, same rounds")
    parser.add_argument("--requests", type=int, default=1000,
                        help="requests per series at c=1 taken in turn, request by request "
                             "(default 1000; 0: none)")
    args = parser.parse_args()
    levels = [int(n) for n in args.concurrency.split(",")]
    series, latencies = measure(args, levels)
    report(series, args, levels)
    if latencies:
        report_latencies(latencies, args.requests)


if __name__ == "__main__":
    main()
