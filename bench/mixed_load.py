"""A mixed load over ``kernel serve --workers=2`` on etcd, then a check that no acknowledged write
was lost.

One etcd and one kernel (``--workers=2 --plugins=api_core,storage_etcd3``). ``--clients``
threads, each on its own keep-alive connection (half on each worker, told apart by
``kernel_worker_pid`` in /metrics), run create / update (PUT with the resourceVersion read last:
optimistic concurrency) / delete / get / list on configmaps for ``--duration`` seconds. Each
client owns its objects (names ``c<client>-<n>``), so the last acknowledged write of an object is
its truth; every acknowledged write is recorded (``--record`` keeps them as JSON lines). Reads
check what they see against that truth: a GET or LIST at ``resourceVersion=""`` must show the
last acknowledged resourceVersion (a read after a write on the other worker included).
One watch per worker follows the namespace from the start (re-opened from its last
resourceVersion if the server ends it).

At the end: every acknowledged object is read back (present with its resourceVersion, or gone if
its delete was acknowledged); each watch's last event per object must agree with the same truth
(after a final write both watches must see). Printed: operations, errors (any failed request or
wrong read), lost (acknowledged writes not found as acknowledged), watch mismatches. A write
whose answer never came (the connection broke) makes its object "unknown": counted, not checked.

With ``--http2`` the clients and watches speak HTTP/2 (httpx on h2, a connection each).

    python bench/mixed_load.py [--duration 600] [--clients 8] [--record writes.jsonl] [--http2]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from workers import (  # noqa: E402
    PLUGINS, TRANSPORT_ERRORS, HTTP2WorkerConnection, WorkerConnection, one_per_worker)

from kernel import testing  # noqa: E402
from kernel_storage_etcd3.testing import etcd_server  # noqa: E402

NAMESPACE = "mixed"
COLLECTION = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
LIVE_PER_CLIENT = 40  # above this a client deletes more than it creates
# create, update, delete, get, list: their weights
OPERATIONS = (("create", 25), ("update", 25), ("delete", 15), ("get", 20), ("list", 15))


@dataclass
class Truth:
    """The acknowledged state of one client's objects: name → resourceVersion, None if deleted."""

    state: dict[str, str | None] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)  # a write whose answer never came


@dataclass
class Counters:
    ops: collections.Counter[str] = field(default_factory=collections.Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def body(name: str, client: int, counter: int, rv: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"client": str(client)}}
    if rv is not None:
        meta["resourceVersion"] = rv
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
            "data": {"n": str(counter), "payload": "x" * 200}}


class Client(threading.Thread):
    def __init__(self, index: int, conn: WorkerConnection, deadline: float, counters: Counters,
                 record: Any, record_lock: threading.Lock) -> None:
        super().__init__(daemon=True)
        self.index, self.conn, self.deadline = index, conn, deadline
        self.counters, self.record, self.record_lock = counters, record, record_lock
        self.truth = Truth()
        self.next_name = 0
        self.random = random.Random(index)

    def live(self) -> list[str]:
        return [n for n, rv in self.truth.state.items() if rv is not None and n not in self.truth.unknown]

    def acknowledge(self, op: str, name: str, rv: str | None) -> None:
        self.truth.state[name] = rv
        with self.record_lock:
            self.record.write(json.dumps({"op": op, "name": name, "rv": rv,
                                          "worker": self.conn.worker, "t": time.time()}) + "\n")

    def run(self) -> None:
        names, weights = zip(*OPERATIONS)
        while time.monotonic() < self.deadline:
            op = self.random.choices(names, weights)[0]
            live = self.live()
            if op == "create" and len(live) >= LIVE_PER_CLIENT:
                op = "delete"
            if op in ("update", "delete", "get") and not live:
                op = "create"
            try:
                getattr(self, op)(live)
            except TRANSPORT_ERRORS as error:
                self.counters.error(f"client {self.index} {op}: {error!r}")
                self.conn.close()  # http.client reconnects on the next request
            self.counters.ops[op] += 1

    def _write(self, op: str, name: str, method: str, path: str, payload: Any,
               expect: int) -> Any:
        try:
            status, answer = self.conn.request(method, path, payload)
        except TRANSPORT_ERRORS:
            self.truth.unknown.add(name)  # it may or may not have happened
            raise
        if status != expect:
            self.counters.error(f"client {self.index} {op} {name}: {status} {answer}")
            return None
        return answer

    def create(self, live: list[str]) -> None:
        name = f"c{self.index}-{self.next_name}"
        self.next_name += 1
        created = self._write("create", name, "POST", COLLECTION, body(name, self.index, 0), 201)
        if created is not None:
            self.acknowledge("create", name, created["metadata"]["resourceVersion"])

    def update(self, live: list[str]) -> None:
        name = self.random.choice(live)
        rv = self.truth.state[name]
        updated = self._write("update", name, "PUT", f"{COLLECTION}/{name}",
                              body(name, self.index, self.random.randrange(1 << 30), rv), 200)
        if updated is not None:
            self.acknowledge("update", name, updated["metadata"]["resourceVersion"])

    def delete(self, live: list[str]) -> None:
        name = self.random.choice(live)
        if self._write("delete", name, "DELETE", f"{COLLECTION}/{name}", None, 200) is not None:
            self.acknowledge("delete", name, None)

    def get(self, live: list[str]) -> None:
        name = self.random.choice(live)
        status, answer = self.conn.request("GET", f"{COLLECTION}/{name}")
        if status != 200 or answer["metadata"]["resourceVersion"] != self.truth.state[name]:
            got = answer["metadata"]["resourceVersion"] if status == 200 else status
            self.counters.error(f"client {self.index} get {name}: {got}, "
                                f"acknowledged {self.truth.state[name]}")

    def list(self, live: list[str]) -> None:
        status, answer = self.conn.request("GET", f"{COLLECTION}?labelSelector=client%3D{self.index}")
        if status != 200:
            self.counters.error(f"client {self.index} list: {status} {answer}")
            return
        seen = {item["metadata"]["name"]: item["metadata"]["resourceVersion"] for item in answer["items"]}
        expected = {name: self.truth.state[name] for name in live}
        seen = {name: rv for name, rv in seen.items() if name not in self.truth.unknown}
        if seen != expected:
            wrong = sorted(set(seen.items()) ^ set(expected.items()))[:5]
            self.counters.error(f"client {self.index} list differs from acknowledged: {wrong}")


class Watch(threading.Thread):
    """The namespace's events on one worker: the last one per object."""

    def __init__(self, kernel: testing.KernelProcess, worker: int, conn: WorkerConnection,
                 rv: str, counters: Counters) -> None:
        super().__init__(daemon=True)
        self.kernel, self.worker, self.conn, self.rv, self.counters = kernel, worker, conn, rv, counters
        self.last: dict[str, tuple[str, str]] = {}  # name → (type, resourceVersion)
        self.events = 0
        self.reopened = 0
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            try:
                response = self.conn.watch(f"{COLLECTION}?watch=1&allowWatchBookmarks=true"
                                           f"&resourceVersion={self.rv}")
                while not self.stop:
                    line = response.readline()
                    if not line:
                        break
                    event = json.loads(line)
                    meta = event["object"]["metadata"]
                    if event["type"] == "ERROR":
                        self.counters.error(f"watch on worker {self.worker}: {event['object']}")
                        break
                    self.rv = meta["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self.events += 1
                        self.last[meta["name"]] = (event["type"], meta["resourceVersion"])
            except (*TRANSPORT_ERRORS, SystemExit) as error:
                if self.stop:
                    return
                self.counters.error(f"watch on worker {self.worker}: {error!r}")
            if not self.stop:
                self.reopened += 1
                self.conn.close()
                time.sleep(0.1)
                self.conn = next(c for c in _retry_connections(
                    self.kernel, self.worker, isinstance(self.conn, HTTP2WorkerConnection)))


def _retry_connections(kernel: testing.KernelProcess, worker: int, http2: bool) -> Any:
    while True:
        try:
            yield one_per_worker(kernel, 2, http2=http2)[worker][0]
        except (*TRANSPORT_ERRORS, SystemExit):
            time.sleep(0.5)


def check(clients: list[Client], watches: list[Watch], conn: WorkerConnection) -> dict[str, int]:
    """Read back every acknowledged object; compare each watch's view with the truth."""
    lost = unknown = checked = watch_mismatch = 0
    details: list[str] = []
    for client in clients:
        for name, rv in client.truth.state.items():
            if name in client.truth.unknown:
                unknown += 1
                continue
            checked += 1
            status, answer = conn.request("GET", f"{COLLECTION}/{name}")
            got = answer["metadata"]["resourceVersion"] if status == 200 else None
            if got != rv:
                lost += 1
                details.append(f"{name}: acknowledged {rv or 'deleted'}, found {got or 'nothing'}")
            for watch in watches:
                kind, watched_rv = watch.last.get(name, ("NONE", ""))
                ok = kind == "DELETED" if rv is None else (kind in ("ADDED", "MODIFIED") and watched_rv == rv)
                if not ok:
                    watch_mismatch += 1
                    details.append(f"watch on worker {watch.worker}: {name} last {kind} {watched_rv}, "
                                   f"acknowledged {rv or 'deleted'}")
    for line in details[:20]:
        print(f"  {line}")
    return {"checked": checked, "lost": lost, "unknown": unknown, "watch_mismatch": watch_mismatch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--record", default="", help="keep the acknowledged writes (JSON lines) here")
    parser.add_argument("--http2", action="store_true",
                        help="clients and watches over HTTP/2 (httpx on h2), as kubectl and client-go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mixed-", dir=os.environ.get("TMPDIR")) as tmp, \
            etcd_server() as etcd:
        work = Path(tmp)
        kernel = testing.start_kernel(work / "kernel", PLUGINS, "--storage-backend=etcd3",
                                      f"--etcd-servers={etcd.url}", f"--workers={args.workers}")
        try:
            result = run(kernel, args, work)
        finally:
            code = kernel.stop(60)
        log = kernel.log()
    print(f"kernel exit code {code}; tracebacks in its log: {log.count('Traceback')}")
    print(f"\nerrors {result['errors']}  lost {result['lost']}  "
          f"(must be 0/0; watch mismatches {result['watch_mismatch']})")
    sys.exit(0 if result["errors"] == result["lost"] == result["watch_mismatch"] == 0 and code == 0 else 1)


def run(kernel: testing.KernelProcess, args: argparse.Namespace, work: Path) -> dict[str, int]:
    setup = WorkerConnection(kernel)
    setup.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": NAMESPACE}})
    _, listed = setup.request("GET", COLLECTION)
    start_rv = listed["metadata"]["resourceVersion"]
    counters = Counters()
    per_worker = one_per_worker(kernel, args.workers, http2=args.http2,
                                each=(args.clients + args.workers - 1) // args.workers + 1)
    watches = [Watch(kernel, worker, conns.pop(), start_rv, counters)
               for worker, conns in sorted(per_worker.items())]
    conns = [conn for group in zip(*per_worker.values()) for conn in group][:args.clients]
    record_path = Path(args.record) if args.record else work / "writes.jsonl"
    record_lock = threading.Lock()
    started = time.monotonic()
    deadline = started + args.duration
    print(f"mixed load over {'HTTP/2' if args.http2 else 'HTTP/1.1'}: {args.clients} clients on {args.workers} workers "
          f"({', '.join(str(sum(1 for c in conns if c.worker == w)) for w in range(args.workers))} "
          f"per worker), {args.duration:g} s; one watch per worker")
    with open(record_path, "w") as record:
        clients = [Client(i, conn, deadline, counters, record, record_lock) for i, conn in enumerate(conns)]
        for thread in (*watches, *clients):
            thread.start()
        while time.monotonic() < deadline:
            time.sleep(min(10, max(0.1, deadline - time.monotonic())))
            elapsed = time.monotonic() - started
            print(f"  {elapsed:6.0f} s  ops {sum(counters.ops.values()):7d}  "
                  f"({sum(counters.ops.values()) / elapsed:.0f}/s)  errors {len(counters.errors)}  "
                  f"watch events {'/'.join(str(w.events) for w in watches)}", flush=True)
        for client in clients:
            client.join()
    # A final write both watches must see: then each has had every earlier event. (On a new
    # connection: the server closed the first one, idle for the whole run, at its keep-alive timeout.)
    setup.close()
    setup = WorkerConnection(kernel)
    _, sentinel = setup.request("POST", COLLECTION, {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "sentinel"}})
    wait = time.monotonic() + 30
    while time.monotonic() < wait and not all("sentinel" in w.last for w in watches):
        time.sleep(0.1)
    for watch in watches:
        watch.stop = True
    result = check(clients, watches, setup)
    for watch in watches:
        if "sentinel" not in watch.last:
            counters.error(f"watch on worker {watch.worker} never saw the final write")
    total = sum(counters.ops.values())
    print(f"\noperations {total} ({total / args.duration:.0f}/s): "
          + ", ".join(f"{op} {n}" for op, n in sorted(counters.ops.items())))
    print(f"acknowledged objects checked {result['checked']}, unknown (no answer) {result['unknown']}; "
          f"watch events {', '.join(f'worker {w.worker}: {w.events} (re-opened {w.reopened})' for w in watches)}; "
          f"acknowledged writes recorded in {record_path}")
    for error in counters.errors[:20]:
        print(f"  error: {error}")
    return {"errors": len(counters.errors), **result}


if __name__ == "__main__":
    main()
