"""API throughput and watch fan-out: ``kernel serve`` against a raw Hypercorn-trio ASGI baseline.

Both servers run in the same run, on the same core, over TLS with the same certificate:

- the kernel: ``kernel serve --plugins=api_core,storage_memory`` (a subprocess, port 0, its own
  --cert-dir), authenticated with the admin bearer token from the kubeconfig it writes;
- the baseline (``bench/baseline_app.py``): a tiny ASGI app on ``hypercorn.trio.serve`` that
  answers GET with stored bytes (the kernel's own answer to the same GET), LIST with the
  kernel's 100-item list bytes, POST by storing the body in a dict and echoing it with 201, and
  GET /watch with a chunked stream to which POST /event fans one line out to every open stream.

GET, LIST and CREATE are driven by ``wrk`` (closed loop, keep-alive, HTTP/1.1 over TLS; a Lua
script makes unique names for the POSTs); the watch fan-out by a trio client in this process
with raw TLS sockets (HTTP/1.1, keep-alive, TCP_NODELAY): N watch streams open, one write, the
time until every stream has received the event, median over several writes. With ``taskset``
and two or more cores the servers run on one core and the load generators on another.

Ratios are kernel/baseline: below 1 for req/s and above 1 for latencies mean the kernel is slower
by that factor than Hypercorn-trio serving precomputed bytes.

    python bench/api.py [--quick] [--connections 32] [--duration 3] [--rounds 3] [--watchers 100,500]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import trio

from kernel import testing

NAMESPACE = "bench"  # 100 configmaps: GET one, LIST all
CREATE_NAMESPACE = "bench-create"  # CREATE piles up here, so the LIST stays at 100
LIST_SIZE = 100
PAYLOAD = "x" * 300  # a ~530-byte configmap, as stored and served
CONFIGMAP = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s","labels":'
             '{"app":"bench"}},"data":{"payload":"' + PAYLOAD + '"}}')
# A CREATE that h2load can repeat (it sends one body): the server names each object.
CREATE_GENERATE_NAME = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"c-",'
                        '"labels":{"app":"bench"}},"data":{"payload":"' + PAYLOAD + '"}}')

BASELINE = str(Path(__file__).with_name("baseline_app.py"))

# wrk: one JSON line from done(); latencies in microseconds. POSTs get unique names per run.
WRK_REPORT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"non2xx": %d, "socket_errors": %d}\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""
WRK_CREATE = r"""
local prefix, counter = "c", 0
local template = [[TEMPLATE]]
init = function(args) prefix = args[1] end
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, nil, string.format(template, prefix .. "-" .. counter))
end
""".replace("TEMPLATE", CONFIGMAP)


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    headers: dict[str, str]  # sent with every request
    get_path: str
    list_path: str
    create_path: str
    watch_path: str
    event_path: str  # the write the watchers see (POST of a configmap)

    def cpu_seconds(self) -> float:
        """utime + stime of the server process, from /proc (0 where there is no /proc)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Load:
    req_s: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # server CPU per request
    errors: str = ""


@dataclass
class FanOut:
    watchers: int
    open_s: float  # opening every stream
    all_ms: list[float] = field(default_factory=list)  # write → every watcher has the event
    first_ms: list[float] = field(default_factory=list)  # write → the first watcher has it
    cpu_ms: float = 0.0  # server CPU per write (all writes / count)
    client_ms: list[float] = field(default_factory=list)  # this process's CPU, write → all


# -- set-up ---------------------------------------------------------------------------------

def _pinning() -> tuple[list[str], list[str], str]:
    """taskset prefixes for servers and load generators, and a sentence saying what was done."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not shutil.which("taskset") or len(cores) < 2:
        return [], [], "not pinned (needs taskset and 2+ cores): servers and load share the cores"
    server, load = str(cores[0]), str(cores[1])
    os.sched_setaffinity(0, {cores[1]})  # this process runs the watch client
    return (["taskset", "-c", server], ["taskset", "-c", load],
            f"pinned with taskset: servers on CPU {server}, load generators (wrk, watch client) "
            f"on CPU {load}")


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], log: Path, what: str) -> str:
    deadline = time.monotonic() + 60
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"{what} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)
    return path.read_text()


def start_kernel(work: Path, pin: list[str], env: dict[str, str],
                 command: Sequence[str] = (testing.KERNEL,)) -> tuple[Server, str]:
    kernel = testing.start_kernel(work, "--plugins=api_core,storage_memory", env=env,
                                  command_prefix=pin, command=command)
    process, token = kernel.process, kernel.token
    port = int(kernel.url.rsplit(":", 1)[1])
    collection = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    server = Server("kernel", process, port,
                    {"Authorization": f"Bearer {token}", "Accept": "application/json",
                     "Content-Type": "application/json"},
                    get_path=f"{collection}/cm-0", list_path=collection,
                    create_path=f"/api/v1/namespaces/{CREATE_NAMESPACE}/configmaps",
                    watch_path="/api/v1/namespaces/{namespace}/configmaps?watch=1",
                    event_path="/api/v1/namespaces/{namespace}/configmaps")
    return server, kernel.ca_file


def start_baseline(work: Path, pin: list[str], env: dict[str, str], get_body: bytes,
                   list_body: bytes) -> Server:
    port_file, log = work / "baseline.port", work / "baseline.log"
    (work / "get.json").write_bytes(get_body)
    (work / "list.json").write_bytes(list_body)
    process = subprocess.Popen(
        [*pin, sys.executable, BASELINE, str(work / "certs" / "apiserver.crt"),
         str(work / "certs" / "apiserver.key"), str(port_file), str(work / "get.json"),
         str(work / "list.json")],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    port = int(_wait_for_file(port_file, process, log, "the baseline"))
    return Server("baseline", process, port, {"Content-Type": "application/json"},
                  get_path="/get", list_path="/list", create_path="/configmaps",
                  watch_path="/watch", event_path="/event")


class Client:
    """Blocking keep-alive HTTPS client for set-up requests."""

    def __init__(self, server: Server, context: ssl.SSLContext) -> None:
        self.server = server
        self.connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=context)

    def request(self, method: str, path: str, body: str | None = None,
                expect: tuple[int, ...] = (200, 201)) -> bytes:
        self.connection.request(method, path, body, self.server.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status not in expect:
            raise SystemExit(f"{self.server.name}: {method} {path} → {response.status}: {data[:500]!r}")
        return data


def prefill_kernel(kernel: Server, context: ssl.SSLContext, namespaces: list[str]) -> tuple[bytes, bytes]:
    """Namespaces and the 100 configmaps; returns the kernel's GET and LIST answers."""
    client = Client(kernel, context)
    for namespace in namespaces:
        client.request("POST", "/api/v1/namespaces",
                       json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": namespace}}))
    for i in range(LIST_SIZE):
        client.request("POST", kernel.list_path, CONFIGMAP % f"cm-{i}")
    return client.request("GET", kernel.get_path), client.request("GET", kernel.list_path)


# -- wrk ------------------------------------------------------------------------------------

def combine(rounds: list[Load]) -> Load:
    """Several interleaved runs as one: req/s and CPU over all requests, the median latencies."""
    median = statistics.median
    return Load(statistics.fmean(r.req_s for r in rounds), median(r.p50_ms for r in rounds),
                median(r.p99_ms for r in rounds),
                sum(r.cpu_us * r.req_s for r in rounds) / (sum(r.req_s for r in rounds) or 1),
                "; ".join(r.errors for r in rounds if r.errors))


def run_wrk(server: Server, pin: list[str], path: str, script: Path, connections: int,
            seconds: int, args: list[str] = ()) -> Load:
    headers = [arg for name, value in server.headers.items() for arg in ("-H", f"{name}: {value}")]
    argv = [*pin, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
            *headers, "-s", str(script), f"https://127.0.0.1:{server.port}{path}"]
    if args:
        argv += ["--", *args]
    cpu_before = server.cpu_seconds()
    result = subprocess.run(argv, capture_output=True, text=True)
    cpu = server.cpu_seconds() - cpu_before
    match = re.search(r"^BENCH (\{.*\})$", result.stdout, re.M)
    if result.returncode != 0 or not match:
        raise SystemExit(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    report = json.loads(match.group(1))
    requests = report["requests"]
    errors = []
    if report["non2xx"]:
        errors.append(f"{report['non2xx']} non-2xx")
    if report["socket_errors"]:
        errors.append(f"{report['socket_errors']} socket errors")
    return Load(requests / (report["duration_us"] / 1e6), report["p50_us"] / 1000,
                report["p99_us"] / 1000, cpu / requests * 1e6 if requests else 0.0,
                ", ".join(errors))


def run_h2load(server: Server, pin: list[str], path: str, connections: int, seconds: int,
               body: Path | None = None) -> Load:
    """h2load over HTTP/2 (one stream at a time per connection, as a client-go request is): a
    POST of ``body`` when given. Latencies are not reported (h2load's are per stream)."""
    headers = [arg for name, value in server.headers.items() for arg in ("-H", f"{name}: {value}")]
    argv = [*pin, "h2load", f"-c{connections}", "-m1", f"-D{seconds}", *headers,
            *(["-d", str(body)] if body else []), f"https://127.0.0.1:{server.port}{path}"]
    cpu_before = server.cpu_seconds()
    result = subprocess.run(argv, capture_output=True, text=True)
    cpu = server.cpu_seconds() - cpu_before
    rate = re.search(r"finished in [\d.]+s, ([\d.]+) req/s", result.stdout)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", result.stdout)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done", result.stdout)
    if result.returncode != 0 or not (rate and codes and done):
        raise SystemExit(f"h2load failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    requests = int(done.group(1))
    bad = sum(int(n) for n in codes.groups()[1:])
    return Load(float(rate.group(1)), 0.0, 0.0, cpu / requests * 1e6 if requests else 0.0,
                f"{bad} non-2xx" if bad else "")


def interleaved_loads(servers: list[Server], pin: list[str], work: Path, connections: int,
                      rounds: int, duration: int, warmup: int = 1,
                      http2: bool = False) -> dict[str, dict[str, list[Load]]]:
    """GET of one configmap, LIST of all, CREATE with wrk (``http2``: h2load, the CREATE a
    ``generateName`` POST) on each server: per test a warm-up run each, then ``rounds`` runs of
    every server in turn (drift affects them alike); every run is kept, by test and server name."""
    report, create = work / "report.lua", work / "create.lua"
    report.write_text(WRK_REPORT)
    create.write_text(WRK_CREATE + WRK_REPORT)
    create_body = work / "create.json"
    create_body.write_text(CREATE_GENERATE_NAME)

    def run(server: Server, path: str, script: Path, seconds: int, marker: str) -> Load:
        if http2:
            return run_h2load(server, pin, path, connections, seconds,
                              create_body if script is create else None)
        return run_wrk(server, pin, path, script, connections, seconds, [marker])

    every: dict[str, dict[str, list[Load]]] = {}
    for index, (test, path_of, script) in enumerate((
            ("GET configmap", lambda s: s.get_path, report),
            (f"LIST {LIST_SIZE} configmaps", lambda s: s.list_path, report),
            ("CREATE configmap", lambda s: s.create_path, create))):
        runs: dict[str, list[Load]] = {server.name: [] for server in servers}
        for server in servers:
            run(server, path_of(server), script, warmup, f"{server.name[0]}{index}w")
        for i in range(rounds):
            for server in servers:
                runs[server.name].append(run(server, path_of(server), script, duration,
                                             f"{server.name[0]}{index}m{i}"))
        every[test] = runs
    return every


# -- watch fan-out (trio, raw TLS) ----------------------------------------------------------

async def _open(port: int, context: ssl.SSLContext) -> trio.SSLStream[trio.SocketStream]:
    tcp = await trio.open_tcp_stream("127.0.0.1", port)  # trio sets TCP_NODELAY; made explicit:
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stream = trio.SSLStream(tcp, context, server_hostname="localhost", https_compatible=True)
    await stream.do_handshake()
    return stream


def _request_bytes(server: Server, method: str, path: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost",
             *(f"{name}: {value}" for name, value in server.headers.items())]
    if method != "GET":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_head(stream: trio.SSLStream, buffer: bytearray) -> tuple[int, dict[str, str]]:
    while b"\r\n\r\n" not in buffer:
        data = await stream.receive_some(65536)
        if not data:
            raise ConnectionError("closed before the response head")
        buffer += data
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers


async def _read_response(stream: trio.SSLStream, buffer: bytearray) -> tuple[int, bytes]:
    code, headers = await _read_head(stream, buffer)
    length = int(headers.get("content-length", "0"))
    while len(buffer) < length:
        data = await stream.receive_some(65536)
        if not data:
            raise ConnectionError("closed before the response body")
        buffer += data
    body = bytes(buffer[:length])
    del buffer[:length]
    return code, body


class Round:
    def __init__(self, marker: bytes, watchers: int) -> None:
        self.marker = marker
        self.t0 = 0.0
        self.arrivals: list[float] = []
        self.watchers = watchers
        self.done = trio.Event()

    def arrived(self) -> None:
        self.arrivals.append(time.perf_counter())
        if len(self.arrivals) == self.watchers:
            self.done.set()


class Watchers:
    def __init__(self) -> None:
        self.round: Round | None = None
        self.streams: list[trio.SSLStream] = []

    async def open_one(self, server: Server, context: ssl.SSLContext, path: str,
                       limiter: trio.CapacityLimiter, nursery: trio.Nursery) -> None:
        async with limiter:
            stream = await _open(server.port, context)
            await stream.send_all(_request_bytes(server, "GET", path))
            buffer = bytearray()
            code, _ = await _read_head(stream, buffer)
            if code != 200:
                raise SystemExit(f"{server.name}: watch {path} → {code}: {bytes(buffer)[:300]!r}")
        self.streams.append(stream)
        nursery.start_soon(self.read, stream, bytes(buffer))

    async def read(self, stream: trio.SSLStream, pending: bytes) -> None:
        seen: Round | None = None
        while True:
            current = self.round
            if current is not None and current is not seen and current.marker in pending:
                seen = current
                current.arrived()
                pending = b""
            data = await stream.receive_some(65536)
            if not data:
                return
            pending = pending[-64:] + data  # markers are short; keep a tail for split ones


async def fan_out(server: Server, context: ssl.SSLContext, watchers: int, writes: int) -> FanOut:
    namespace = f"bench-watch-{watchers}"
    path = server.watch_path.format(namespace=namespace)
    event_path = server.event_path.format(namespace=namespace)
    group = Watchers()
    async with trio.open_nursery() as nursery:
        started = time.perf_counter()
        limiter = trio.CapacityLimiter(64)
        async with trio.open_nursery() as opening:
            for _ in range(watchers):
                opening.start_soon(group.open_one, server, context, path, limiter, nursery)
        result = FanOut(watchers, time.perf_counter() - started)
        writer = await _open(server.port, context)
        buffer = bytearray()
        await trio.sleep(0.2)
        cpu_before = server.cpu_seconds()
        for i in range(writes):
            name = f"fan-{i:04d}-{os.urandom(4).hex()}"
            current = group.round = Round(f'"name":"{name}"'.encode(), watchers)
            request = _request_bytes(server, "POST", event_path, (CONFIGMAP % name).encode())
            client_cpu = time.process_time()
            current.t0 = time.perf_counter()
            await writer.send_all(request)
            code, body = await _read_response(writer, buffer)
            if code != 201:
                raise SystemExit(f"{server.name}: POST {event_path} → {code}: {body[:300]!r}")
            with trio.move_on_after(30):
                await current.done.wait()
            if not current.done.is_set():
                raise SystemExit(f"{server.name}: only {len(current.arrivals)} of {watchers} "
                                 "watchers saw the event within 30 s")
            result.client_ms.append((time.process_time() - client_cpu) * 1000)
            result.all_ms.append((current.arrivals[-1] - current.t0) * 1000)
            result.first_ms.append((current.arrivals[0] - current.t0) * 1000)
            await trio.sleep(0.1)
        result.cpu_ms = (server.cpu_seconds() - cpu_before) / writes * 1000
        nursery.cancel_scope.cancel()
        for stream in [writer, *group.streams]:
            await trio.aclose_forcefully(stream)
    return result


# -- report ---------------------------------------------------------------------------------

def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def print_report(loads: dict[str, dict[str, Load]], fanouts: dict[int, dict[str, FanOut]]) -> None:
    print(f"\n{'':<22}{'kernel':^33}|{'baseline':^33}|{'kernel/baseline':^22}")
    print(f"{'':<22}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'cpu µs':>9}|"
          f"{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'cpu µs':>9}|"
          f"{'req/s':>7}{'p50':>7}{'p99':>8}")
    for test, by_server in loads.items():
        k, b = by_server["kernel"], by_server["baseline"]
        print(f"{test:<22}{k.req_s:8.0f}{k.p50_ms:8.1f}{k.p99_ms:8.1f}{k.cpu_us:9.0f}|"
              f"{b.req_s:8.0f}{b.p50_ms:8.1f}{b.p99_ms:8.1f}{b.cpu_us:9.0f}|"
              f"{_ratio(k.req_s, b.req_s):>7}{_ratio(k.p50_ms, b.p50_ms):>7}"
              f"{_ratio(k.p99_ms, b.p99_ms):>8}")
        for server in ("kernel", "baseline"):
            if by_server[server].errors:
                print(f"  WARNING {server}: {by_server[server].errors}")
    median = statistics.median
    print(f"\n{'watch fan-out':<22}{'all ms':>8}{'first ms':>9}{'cpu ms':>8}{'open s':>8}|"
          f"{'all ms':>8}{'first ms':>9}{'cpu ms':>8}{'open s':>8}|{'all':>7}{'first':>7}")
    for watchers, by_server in fanouts.items():
        k, b = by_server["kernel"], by_server["baseline"]
        print(f"{f'{watchers} watchers, 1 write':<22}"
              f"{median(k.all_ms):8.1f}{median(k.first_ms):9.1f}{k.cpu_ms:8.1f}{k.open_s:8.2f}|"
              f"{median(b.all_ms):8.1f}{median(b.first_ms):9.1f}{b.cpu_ms:8.1f}{b.open_s:8.2f}|"
              f"{_ratio(median(k.all_ms), median(b.all_ms)):>7}"
              f"{_ratio(median(k.first_ms), median(b.first_ms)):>7}")
    print("watch client CPU per write (this process; close to 'all ms' means client-bound): " +
          ", ".join(f"{n} {name} {median(f.client_ms):.1f} ms" for n, s in fanouts.items()
                    for name, f in s.items()))
    parts = [f"{test.split()[0]} {_ratio(s['kernel'].req_s, s['baseline'].req_s)}x req/s"
             for test, s in loads.items()]
    parts += [f"fan-out {n} {_ratio(median(s['kernel'].all_ms), median(s['baseline'].all_ms))}x time"
              for n, s in fanouts.items()]
    print("\nsummary (kernel/baseline): " + ", ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs (1 s warm-up, one 2 s run per test, 100 watchers, 3 writes)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 3; quick 2)")
    parser.add_argument("--rounds", type=int,
                        help="interleaved wrk runs per test and server (default 3; quick 1)")
    parser.add_argument("--watchers", help="watcher counts, comma-separated (default 100,500)")
    parser.add_argument("--writes", type=int, help="writes per fan-out test (default 7; quick 3)")
    parser.add_argument("--kernel-command", default=testing.KERNEL,
                        help="what runs `serve` (default: this venv's kernel), e.g. another tree's")
    args = parser.parse_args()
    duration = args.duration or (2 if args.quick else 3)
    rounds = args.rounds or (1 if args.quick else 3)
    warmup = 1 if args.quick else 2
    watcher_counts = [int(n) for n in (args.watchers or ("100" if args.quick else "100,500")).split(",")]
    writes = args.writes or (3 if args.quick else 7)

    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu)")
    server_pin, load_pin, pinning = _pinning()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # installed plugins only
    started = time.perf_counter()
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        work = Path(tmp)
        try:
            kernel, ca_file = start_kernel(work, server_pin, env, shlex.split(args.kernel_command))
            servers.append(kernel)
            context = ssl.create_default_context(cafile=ca_file)
            get_body, list_body = prefill_kernel(
                kernel, context, [NAMESPACE, CREATE_NAMESPACE,
                                  *(f"bench-watch-{n}" for n in watcher_counts)])
            baseline = start_baseline(work, server_pin, env, get_body, list_body)
            servers.append(baseline)

            print(f"kernel serve --plugins=api_core,storage_memory vs raw Hypercorn-trio ASGI, "
                  f"both over TLS (HTTP/1.1); {pinning}")
            print(f"GET/LIST/CREATE: wrk -t1 -c{args.connections}, {rounds} x {duration} s per "
                  f"server (interleaved; req/s mean, latency median of runs) after a {warmup} s "
                  f"warm-up; GET body {len(get_body)} B, LIST body {len(list_body)} B "
                  f"({LIST_SIZE} items); cpu µs = server CPU time per request")
            print(f"watch fan-out: {writes} writes per test, medians; all/first = write sent → "
                  f"last/first watcher has the event; cpu ms = server CPU per write")
            print(f"load average before the run: {os.getloadavg()[0]:.2f} (other processes "
                  "on these cores make every figure noisier)")

            loads = {test: {name: combine(r) for name, r in runs.items()} for test, runs in
                     interleaved_loads([kernel, baseline], load_pin, work, args.connections,
                                       rounds, duration, warmup).items()}

            fanouts: dict[int, dict[str, FanOut]] = {}
            for watchers in watcher_counts:
                fanouts[watchers] = {server.name: trio.run(fan_out, server, context, watchers, writes)
                                     for server in (kernel, baseline)}
            print_report(loads, fanouts)
            print(f"total time {time.perf_counter() - started:.0f} s; load average after: "
                  f"{os.getloadavg()[0]:.2f}")
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
