"""``kernel serve --workers``: GET with 2 workers ÷ GET with 1 worker on the same etcd, and the
latency of a watch on one worker seeing a write made through the other.

One etcd (Debian's ``etcd``, on tmpfs) and two kernels on it, each with its own ``--etcd-prefix``:
``--workers=1`` and ``--workers=2``, both ``--plugins=api_core,storage_etcd3``. GET of one
configmap is driven by wrk (closed loop, keep-alive, HTTP/1.1 over TLS), the two kernels' runs
interleaved; twice: at ``resourceVersion=""`` (kube's quorum read: every GET asks etcd) and at
``resourceVersion=0`` (served from the worker's watch cache). Nothing is pinned: on a 2-core
machine the workers, etcd and wrk share both cores, so a ratio of 2 is out of reach: the whole
machine's busy share during each run (/proc/stat, every process and interrupt) is printed, and
1 ÷ that share for one worker is what any number of workers could reach on these cores if each
request cost the machine what it did with one.

Cross-worker watch latency: connections are opened until each worker holds one (a worker is told
by ``kernel_worker_pid`` in /metrics, asked on the same keep-alive connection); a watch on each,
then sequential writes through worker 0: the time from sending the write until the event reaches
the watch on worker 1 (cross), and on worker 0 itself (same), p50/p99. Target: cross p99 ≤ 100 ms.

    python bench/workers.py [--rounds 3] [--duration 5] [--connections 32] [--writes 300]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from api import (  # noqa: E402
    CONFIGMAP, NAMESPACE, WRK_REPORT, Load, Server, combine, prefill_kernel, run_wrk,
)

from kernel import testing  # noqa: E402
from kernel_storage_etcd3.testing import etcd_server  # noqa: E402

try:  # what a request can fail with: the connection's, and httpx's over HTTP/2
    import httpx
    TRANSPORT_ERRORS: tuple[type[Exception], ...] = (OSError, http.client.HTTPException,
                                                     httpx.HTTPError)
except ImportError:
    TRANSPORT_ERRORS = (OSError, http.client.HTTPException)
WORKER_PID = re.compile(r'^kernel_worker_pid\{worker="(\d+)"\} ([0-9.e+]+)$', re.M)
PLUGINS = "--plugins=api_core,storage_etcd3"


class TreeServer(Server):
    """A Server whose CPU time counts its worker processes too."""

    def cpu_seconds(self) -> float:
        total, pending = 0.0, [self.process.pid]
        while pending:
            pid = pending.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                # Children are listed under the thread that started them (trio: a worker thread).
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pending += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


def machine_jiffies() -> tuple[int, int]:
    """Busy and total CPU time of the whole machine (/proc/stat's first line, in clock ticks)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def start(work: Path, name: str, etcd_url: str, workers: int) -> tuple[Server, testing.KernelProcess]:
    kernel = testing.start_kernel(work / name, PLUGINS, "--storage-backend=etcd3",
                                  f"--etcd-servers={etcd_url}", f"--etcd-prefix=/{name}",
                                  f"--workers={workers}")
    collection = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    server = TreeServer(name, kernel.process, int(kernel.url.rsplit(":", 1)[1]),
                        {"Authorization": f"Bearer {kernel.token}", "Accept": "application/json",
                         "Content-Type": "application/json"},
                        get_path=f"{collection}/cm-0", list_path=collection, create_path="",
                        watch_path="", event_path="")
    return server, kernel


class WorkerConnection:
    """One keep-alive HTTPS connection, so one worker: ``pid`` says which."""

    def __init__(self, kernel: testing.KernelProcess, timeout: float = 30) -> None:
        port = int(kernel.url.rsplit(":", 1)[1])
        self.http = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                                context=ssl.create_default_context(cafile=kernel.ca_file))
        self.headers = {"Authorization": f"Bearer {kernel.token}", "Content-Type": "application/json"}
        self._identify()

    def _identify(self) -> None:
        status, text = self.request("GET", "/metrics")
        match = WORKER_PID.search(text)
        if status != 200 or not match:
            raise SystemExit(f"/metrics: {status}, no kernel_worker_pid")
        self.worker, self.pid = int(match.group(1)), int(float(match.group(2)))

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else body if isinstance(body, str) else json.dumps(body)
        self.http.request(method, path, body=data, headers=self.headers)
        response = self.http.getresponse()
        raw = response.read()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(raw)
        return response.status, raw.decode()

    def watch(self, path: str) -> http.client.HTTPResponse:
        self.http.request("GET", path, headers=self.headers)
        response = self.http.getresponse()
        if response.status != 200:
            raise SystemExit(f"watch {path}: {response.status}")
        return response

    def close(self) -> None:
        self.http.close()


class HTTP2WorkerConnection(WorkerConnection):
    """The same over HTTP/2 (httpx's client on h2): one connection, as client-go keeps one."""

    def __init__(self, kernel: testing.KernelProcess, timeout: float = 30) -> None:
        self.kernel, self.timeout = kernel, timeout
        self.http2 = self._client()
        self.headers = {"Authorization": f"Bearer {kernel.token}", "Content-Type": "application/json"}
        self._identify()

    def _client(self) -> Any:
        import httpx

        return httpx.Client(http2=True, base_url=self.kernel.url, timeout=self.timeout,
                            verify=ssl.create_default_context(cafile=self.kernel.ca_file),
                            limits=httpx.Limits(max_connections=1))

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else body if isinstance(body, str) else json.dumps(body)
        response = self.http2.request(method, path, content=data, headers=self.headers)
        if response.http_version != "HTTP/2":
            raise SystemExit(f"{method} {path} over {response.http_version}")
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.status_code, response.json()
        return response.status_code, response.text

    def watch(self, path: str) -> Any:
        response = self.http2.send(self.http2.build_request("GET", path, headers=self.headers),
                                   stream=True)
        if response.status_code != 200:
            raise SystemExit(f"watch {path}: {response.status_code}")
        return _Lines(response.iter_lines())

    def close(self) -> None:
        """Closed; a later request opens a new connection (as http.client's does)."""
        self.http2.close()
        self.http2 = self._client()


class _Lines:
    """A streamed response read line by line, as ``HTTPResponse.readline`` reads."""

    def __init__(self, lines: Any) -> None:
        self.lines = lines

    def readline(self) -> str:
        line = next(self.lines, None)
        return "" if line is None else line + "\n"


def one_per_worker(kernel: testing.KernelProcess, workers: int, each: int = 1,
                   attempts: int = 300, http2: bool = False) -> dict[int, list[WorkerConnection]]:
    """Connections until every worker (by index) holds ``each``; the extra ones are closed."""
    found: dict[int, list[WorkerConnection]] = {}
    for _ in range(attempts):
        conn = HTTP2WorkerConnection(kernel) if http2 else WorkerConnection(kernel)
        bucket = found.setdefault(conn.worker, [])
        if len(bucket) < each:
            bucket.append(conn)
        else:
            conn.close()
        if len(found) == workers and all(len(b) == each for b in found.values()):
            return found
    raise SystemExit(f"after {attempts} connections, workers reached: {sorted(found)}")


def watch_latency(kernel: testing.KernelProcess, writes: int) -> dict[str, list[float]]:
    """ms from sending a write through worker 0 until a watch on worker 1 (cross) and on
    worker 0 (same) has its event; and the write's own latency."""
    conns = one_per_worker(kernel, 2, each=2)
    writer = conns[0][0]
    path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    status, listed = writer.request("GET", f"{path}?labelSelector=bench%3Dlatency")
    rv = listed["metadata"]["resourceVersion"]
    arrived: dict[str, dict[str, float]] = {"cross": {}, "same": {}}
    watch_url = f"{path}?watch=1&labelSelector=bench%3Dlatency&resourceVersion={rv}"

    def read(kind: str, response: http.client.HTTPResponse) -> None:
        for _ in range(writes):
            line = response.readline()
            if not line:
                return
            event = json.loads(line)
            arrived[kind][event["object"]["metadata"]["name"]] = time.perf_counter()

    readers = [threading.Thread(target=read, args=(kind, conns[worker][1].watch(watch_url)), daemon=True)
               for kind, worker in (("cross", 1), ("same", 0))]
    for reader in readers:
        reader.start()
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    write_ms = []
    for i in range(writes):
        name = f"lat-{i}"
        body = CONFIGMAP % name
        body = body.replace('"app":"bench"', '"bench":"latency"')
        sent[name] = time.perf_counter()
        status, _ = writer.request("POST", path, body)
        acked[name] = time.perf_counter()
        write_ms.append((acked[name] - sent[name]) * 1000)
        if status != 201:
            raise SystemExit(f"write {name}: {status}")
        time.sleep(0.01)
    for reader in readers:
        reader.join(30)
    for group in conns.values():
        for conn in group:
            conn.close()
    result = {"write": write_ms}
    for kind, times in arrived.items():
        missing = len(sent) - len(times)
        if missing:
            raise SystemExit(f"{kind}: {missing} events never arrived")
        result[kind] = [(times[name] - sent[name]) * 1000 for name in sent]
        # After the write's answer (0 when the event came first): what the watch adds.
        result[f"{kind} after ack"] = [max(0.0, times[name] - acked[name]) * 1000 for name in sent]
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu)")
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="bench-workers-", dir=os.environ.get("TMPDIR")) as tmp, \
            etcd_server() as etcd:
        work = Path(tmp)
        try:
            kernels = {}
            for name, workers in (("workers-1", 1), ("workers-2", 2)):
                server, kernel = start(work, name, etcd.url, workers)
                servers.append(server)
                kernels[name] = kernel
                prefill_kernel(server, ssl.create_default_context(cafile=kernel.ca_file), [NAMESPACE])
            report = work / "report.lua"
            report.write_text(WRK_REPORT)
            print(f"GET of one configmap on etcd, --workers=1 vs --workers=2 (one etcd, "
                  f"{os.cpu_count()} cores, not pinned: kernels, etcd and wrk share them); "
                  f"wrk -t1 -c{args.connections}, {args.rounds} x {args.duration} s interleaved")
            loads: dict[str, dict[str, Load]] = {}
            for test, suffix in (('GET (resourceVersion="", quorum read)', ""),
                                 ("GET (resourceVersion=0, watch cache)", "?resourceVersion=0")):
                runs: dict[str, list[Load]] = {s.name: [] for s in servers}
                busy: dict[str, list[float]] = {s.name: [] for s in servers}
                for server in servers:  # warm-up
                    run_wrk(server, [], server.get_path + suffix, report, args.connections, 1)
                for _ in range(args.rounds):
                    for server in servers:
                        before = machine_jiffies()
                        runs[server.name].append(run_wrk(server, [], server.get_path + suffix,
                                                         report, args.connections, args.duration))
                        after = machine_jiffies()
                        busy[server.name].append((after[0] - before[0]) / (after[1] - before[1]))
                loads[test] = {name: combine(r) for name, r in runs.items()}
                spread = [b.req_s / a.req_s for a, b in zip(runs["workers-1"], runs["workers-2"])]
                loads[test]["spread"] = spread  # type: ignore[assignment]
                loads[test]["busy"] = {  # type: ignore[assignment]
                    name: statistics.median(values) for name, values in busy.items()}
            latency = watch_latency(kernels["workers-2"], args.writes)
        finally:
            for server in servers:
                server.stop()
    print(f"\n{'test':<40}{'1 worker req/s':>16}{'2 workers req/s':>17}{'ratio':>8}"
          f"{'per-round ratios':>22}{'p99 ms (1/2)':>16}  errors")
    for test, by in loads.items():
        one, two, spread = by["workers-1"], by["workers-2"], by["spread"]
        errors = "; ".join(e for e in (one.errors, two.errors) if e) or "-"
        print(f"{test:<40}{one.req_s:>16.0f}{two.req_s:>17.0f}{two.req_s / one.req_s:>8.2f}"
              f"{' '.join(f'{r:.2f}' for r in spread):>22}"  # type: ignore[union-attr]
              f"{f'{one.p99_ms:.1f}/{two.p99_ms:.1f}':>16}  {errors}")
        print(f"{'':<40}{'server CPU µs per request, 1 worker / 2 workers':>50}: "
              f"{one.cpu_us:.0f} / {two.cpu_us:.0f}")
        used = by["busy"]  # type: ignore[index]
        print(f"{'':<40}{'the machine busy (every core), 1 worker / 2 workers':>50}: "
              f"{used['workers-1']:.0%} / {used['workers-2']:.0%}; full cores at 1 worker's cost "
              f"per request: {1 / used['workers-1']:.2f} × its rate")
    print(f"\nwatch latency over {args.writes} sequential writes through worker 0 (ms from sending "
          f"the write until the watch has the event):")
    for kind in ("cross", "same", "write", "cross after ack", "same after ack"):
        label = {"cross": "watch on worker 1 (cross-worker)", "same": "watch on worker 0 (same worker)",
                 "write": "the write's own response",
                 "cross after ack": "worker 1's watch, after the answer",
                 "same after ack": "worker 0's watch, after the answer"}[kind]
        values = latency[kind]
        print(f"  {label:<36} p50 {statistics.median(values):7.1f}  p99 {percentile(values, 0.99):7.1f}"
              f"  max {max(values):7.1f}")
    print(f"  target: cross-worker p99 ≤ 100 ms; it is {percentile(latency['cross'], 0.99):.1f} ms "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
