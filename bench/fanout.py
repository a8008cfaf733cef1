"""Watch fan-out at scale: deliveries/s to N watchers ÷ the GET req/s of the same run.

Issue 18's target: at 1000 watchers, deliveries/s ≥ 20 × the GET req/s measured in the same
run on the same server. One ``kernel serve --plugins=api_core,storage_memory`` (pinned to one
core with taskset; wrk and the watch client on the other) serves, in each of ``--runs`` rounds:

- GET of one configmap with wrk (the same driver and settings as ``bench/api.py``);
- N HTTP/1.1 watch streams over TLS (``bench/watch_client.py``: one process reading every stream
  with epoll, so the client keeps up with the server), then ``--writes``
  single writes: deliveries/s = N ÷ (write sent → the last watcher has the event), median of
  the writes; then three bursts: ``--burst`` writes sent at once, each on its own connection (as
  concurrent writers would), and one more after their responses: N × (burst + 1) ÷ (first write
  sent → every watcher has the last one), median of the bursts, which shows what writing the
  events that are due together to each watcher at once gives. Above about 100k deliveries/s
  the watch client (7-10 µs of its own CPU per delivery, on the other core) nears its limit:
  the burst figures are then lower bounds.

With ``--http2`` the watchers speak HTTP/2 (a connection and stream each, as every client-go
informer watches); the GETs stay wrk's.

With ``--before DIR`` (a source tree's ``kernel`` package, e.g. ``git archive main kernel | tar
-x -C DIR``) a second kernel imports the kernel from there (PYTHONPATH; the plugins stay this
venv's) and is measured in the same rounds, so the before/after figures share one run.

The raw Hypercorn-trio fan-out of ``bench/baseline_app.py`` (one memory channel per stream, one
ASGI send per line) runs in the same rounds as the floor a plain ASGI app reaches. In each round,
``bench/send_floor.py`` times what no server can avoid for one event: encrypting its bytes for
each watcher's TLS session and sending them on the socket, in a bare loop pinned to the servers'
core; 1e6 ÷ its µs per watcher is the most deliveries/s one write can reach on this machine.
Ratios are printed per round, then the median and spread (min-max) over the rounds.

    python bench/fanout.py [--watchers 1000] [--runs 3] [--writes 5] [--burst 10] [--duration 3]
                           [--before DIR] [--no-baseline] [--http2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).parent))
import api  # noqa: E402  (bench/api.py: servers, wrk, the raw watch client)


CLIENT = str(Path(__file__).with_name("watch_client.py"))
FLOOR = str(Path(__file__).with_name("send_floor.py"))
BURSTS = 3  # bursts per round


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _line(stream: trio.abc.ReceiveStream, buffer: bytearray) -> str:
    while b"\n" not in buffer:
        data = await stream.receive_some(4096)
        if not data:
            raise SystemExit(f"the watch client exited:{bytes(buffer).decode()!r}")
        buffer += data
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line.decode()


async def burst(server: api.Server, ca_file: str, watchers: int, writes: int, burst_size: int,
                http2: bool = False) -> tuple[list[float], float, float, float, int]:
    """Single writes (seconds until every watcher has each), then ``burst_size`` concurrent
    writes and one after them (seconds until every watcher has the last); the server's and
    the watch client's CPU seconds over the writes (opening the streams left out); and the bytes
    of one event as a watcher gets it. The watchers are ``watch_client.py`` (one process,
    epoll), on the load generators' core like this one."""
    namespace = f"bench-watch-{watchers}"
    path = server.watch_path.format(namespace=namespace)
    event_path = server.event_path.format(namespace=namespace)
    config: dict[str, object] = {"port": server.port, "ca_file": ca_file, "count": watchers}
    if http2:
        config.update(http2=True, path=path, headers=server.headers)
    else:
        config["request"] = api._request_bytes(server, "GET", path).decode("latin-1")
    client = await trio.lowlevel.open_process([sys.executable, CLIENT, json.dumps(config)],
                                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    lines = bytearray()
    singles: list[float] = []
    event_bytes = 0
    try:
        with trio.fail_after(120):
            if await _line(client.stdout, lines) != "ready":
                raise SystemExit("the watch client did not start")
        context = ssl.create_default_context(cafile=ca_file)
        writers = [await api._open(server.port, context) for _ in range(max(1, burst_size))]
        await trio.sleep(0.3)
        cpu, client_cpu = server.cpu_seconds(), _cpu_seconds(client.pid)

        async def write(writer: trio.SSLStream[trio.SocketStream], name: str) -> None:
            nonlocal event_bytes
            request = api._request_bytes(server, "POST", event_path,
                                         (api.CONFIGMAP % name).encode())
            await writer.send_all(request)
            code, body = await api._read_response(writer, bytearray())
            if code != 201:
                raise SystemExit(f"{server.name}: POST {event_path} → {code}: {body[:300]!r}")
            # The event is this object as one JSON line, in one HTTP/1.1 chunk or DATA frame.
            line = len(b'{"type":"ADDED","object":}\n') + len(body)
            event_bytes = line + (9 if http2 else len(b"%x\r\n\r\n" % line))

        async def round_(names: list[str]) -> float:
            """Seconds from the first write sent until every watcher has the last one. All but
            the last are sent at once, each on its own connection (concurrent writers); the
            last follows their responses, so it is the last event every watcher gets."""
            await client.stdin.send_all(f'round "name":"{names[-1]}"\n'.encode())
            t0 = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for writer, name in zip(writers, names[:-1]):
                    nursery.start_soon(write, writer, name)
            await write(writers[0], names[-1])
            with trio.move_on_after(60) as waited:
                done = await _line(client.stdout, lines)
            if waited.cancelled_caught:
                raise SystemExit(f"{server.name}: not every watcher saw the event within 60 s")
            return float(done.split()[2]) - t0

        for i in range(writes):
            singles.append(await round_([f"fan-{i:04d}-{os.urandom(4).hex()}"]))
            await trio.sleep(0.1)
        times = []
        for _ in range(BURSTS):  # how the writes fall into batches varies: the median of a few
            times.append(await round_([f"burst-{i:04d}-{os.urandom(4).hex()}"
                                       for i in range(burst_size + 1)]))
            await trio.sleep(0.1)
        burst_s = statistics.median(times)
        cpu = server.cpu_seconds() - cpu
        client_cpu = _cpu_seconds(client.pid) - client_cpu
        for writer in writers:
            await trio.aclose_forcefully(writer)
    finally:
        client.kill()
        await client.wait()
    return singles, burst_s, cpu, client_cpu, event_bytes


def send_floor(pin: list[str], load_pin: list[str], watchers: int, size: int) -> float:
    """CPU µs per watcher to TLS-encrypt and send ``size`` bytes and nothing else
    (``bench/send_floor.py``), on the servers' core: the most a single write's fan-out can
    reach here is 1e6 ÷ this deliveries/s."""
    reader_cpu = ["--reader-cpu", load_pin[-1]] if load_pin else []
    out = subprocess.run([*pin, sys.executable, FLOOR, "--watchers", str(watchers),
                          "--size", str(size), *reader_cpu],
                         check=True, capture_output=True, text=True).stdout
    return float(json.loads(out)["tls_send_us"])


def _spread(values: list[float], fmt: str = "{:.1f}") -> str:
    return (f"{fmt.format(statistics.median(values))} "
            f"({fmt.format(min(values))}-{fmt.format(max(values))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--writes", type=int, default=5, help="single writes per round (default 5)")
    parser.add_argument("--burst", type=int, default=10, help="writes in the burst (default 10)")
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk GET run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--no-baseline", action="store_true", help="skip the raw Hypercorn floor")
    parser.add_argument("--before", help="a source tree holding the kernel package to compare")
    parser.add_argument("--http2", action="store_true",
                        help="watchers over HTTP/2 (a connection each, as informers); GET still wrk")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu)")
    server_pin, load_pin, pinning = api._pinning()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    servers: list[api.Server] = []
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        work = Path(tmp)
        try:
            kernel, ca_file = api.start_kernel(work, server_pin, env)
            servers.append(kernel)
            context = ssl.create_default_context(cafile=ca_file)
            get_body, list_body = api.prefill_kernel(
                kernel, context, [api.NAMESPACE, api.CREATE_NAMESPACE,
                                  f"bench-watch-{args.watchers}"])
            kernels = {"after" if args.before else "kernel": kernel}
            contexts = {"after" if args.before else "kernel": context}
            ca_files = {"after" if args.before else "kernel": ca_file}
            if args.before:
                (work / "before").mkdir()
                before, before_ca = api.start_kernel(
                    work / "before", server_pin,
                    {**env, "PYTHONPATH": str(Path(args.before).resolve())})
                before.name = "before"
                servers.append(before)
                contexts["before"] = ssl.create_default_context(cafile=before_ca)
                ca_files["before"] = before_ca
                api.prefill_kernel(before, contexts["before"], [
                    api.NAMESPACE, api.CREATE_NAMESPACE, f"bench-watch-{args.watchers}"])
                kernels["before"] = before
            floor = None
            if not args.no_baseline:
                floor = api.start_baseline(work, server_pin, env, get_body, list_body)
                servers.append(floor)
            report = work / "report.lua"
            report.write_text(api.WRK_REPORT)
            print(f"kernel serve --plugins=api_core,storage_memory, TLS, "
                  f"watchers over {'HTTP/2' if args.http2 else 'HTTP/1.1'}; {pinning}; "
                  f"{args.watchers} watchers; load average {os.getloadavg()[0]:.2f}")
            for server in kernels.values():
                api.run_wrk(server, load_pin, server.get_path, report, args.connections, 2, ["w"])
            rows: dict[str, dict[str, list[float]]] = {
                name: {key: [] for key in ("get", "single", "burst", "ratio", "burst_ratio",
                                           "cpu_us", "cpu_ratio", "get_cpu_us", "client_us",
                                           "ceiling_ratio", "of_ceiling")}
                for name in kernels}
            floors: dict[str, list[float]] = {"single": [], "burst": []}
            ceilings: list[float] = []  # TLS + send alone, deliveries/s (send_floor.py)
            for run in range(args.runs):
                line = [f"run {run + 1}:"]
                for name, server in kernels.items():  # interleaved: drift affects both alike
                    get = api.run_wrk(server, load_pin, server.get_path, report,
                                      args.connections, args.duration, [f"g{run}"])
                    if not get.req_s or get.errors:
                        raise SystemExit(f"{name}: GET {get.req_s:.0f} req/s {get.errors}")
                    singles, burst_s, cpu, client_cpu, event_bytes = trio.run(
                        burst, server, ca_files[name], args.watchers, args.writes, args.burst,
                        args.http2)
                    single = args.watchers / statistics.median(singles)
                    burst_rate = args.watchers * (args.burst + 1) / burst_s
                    row = rows[name]
                    row["get"].append(get.req_s)
                    row["get_cpu_us"].append(get.cpu_us)
                    row["single"].append(single)
                    row["burst"].append(burst_rate)
                    row["ratio"].append(single / get.req_s)
                    row["burst_ratio"].append(burst_rate / get.req_s)
                    # server CPU per delivery (the sleeps between writes cost nothing)
                    deliveries = args.watchers * (args.writes + BURSTS * (args.burst + 1))
                    row["cpu_us"].append(cpu / deliveries * 1e6)
                    # The watch client's own CPU per delivery: were it above the server's, the
                    # wall-clock rates would measure the client, not the server.
                    row["client_us"].append(
                        client_cpu / deliveries * 1e6)
                    # The same ratio in server CPU (deliveries per CPU second ÷ GETs per CPU
                    # second): what the shared machine's scheduling does not blur.
                    row["cpu_ratio"].append(get.cpu_us / row["cpu_us"][-1])
                    line.append(f"{name}: GET {get.req_s:.0f} req/s, fan-out {single:.0f}/s "
                                f"(×{single / get.req_s:.1f} GET), burst {burst_rate:.0f}/s "
                                f"(×{burst_rate / get.req_s:.1f}), {row['cpu_us'][-1]:.0f} µs "
                                f"CPU/delivery (client {row['client_us'][-1]:.0f} µs);")
                ceilings.append(1e6 / send_floor(server_pin, load_pin, args.watchers, event_bytes))
                for name, row in rows.items():
                    row["ceiling_ratio"].append(ceilings[-1] / row["get"][-1])
                    row["of_ceiling"].append(row["single"][-1] / ceilings[-1])
                ratios = " / ×".join(f"{row['ceiling_ratio'][-1]:.1f}" for row in rows.values())
                line.append(f"TLS + send alone ({event_bytes} B): at most {ceilings[-1]:.0f}/s "
                            f"(×{ratios} GET);")
                if floor is not None:
                    singles, burst_s, _, _, _ = trio.run(burst, floor, ca_file, args.watchers,
                                                         args.writes, args.burst)
                    floors["single"].append(args.watchers / statistics.median(singles))
                    floors["burst"].append(args.watchers * (args.burst + 1) / burst_s)
                    line.append(f"raw Hypercorn floor {floors['single'][-1]:.0f}/s, burst "
                                f"{floors['burst'][-1]:.0f}/s")
                print(" ".join(line), flush=True)
            print(f"\nmedian (min-max) over {args.runs} runs, {args.watchers} watchers:")
            for name, row in rows.items():
                print(f"{name}:")
                print(f"  GET req/s                         {_spread(row['get'], '{:.0f}')}")
                print(f"  fan-out deliveries/s, one write   {_spread(row['single'], '{:.0f}')}"
                      f"  ÷ GET = {_spread(row['ratio'])}  (target ≥ 20)")
                print(f"  TLS + send alone, one write       {_spread(ceilings, '{:.0f}')}"
                      f"  ÷ GET = {_spread(row['ceiling_ratio'])}  (the most one write can reach)")
                print("  one write ÷ TLS + send alone      "
                      + _spread(row["of_ceiling"], "{:.2f}"))
                print(f"  fan-out deliveries/s, burst of {args.burst:<3}"
                      f"{_spread(row['burst'], '{:.0f}')}  ÷ GET = {_spread(row['burst_ratio'])}")
                print(f"  CPU per delivery (µs)             {_spread(row['cpu_us'])}"
                      f"  (GET: {_spread(row['get_cpu_us'])})")
                print(f"  watch client CPU per delivery (µs) {_spread(row['client_us'])}")
                print(f"  deliveries per CPU s ÷ GETs per CPU s  {_spread(row['cpu_ratio'])}")
                if floors["single"]:
                    print("  ÷ raw Hypercorn floor, one write  " + _spread(
                        [k / f for k, f in zip(row["single"], floors["single"])], "{:.2f}"))
            if args.before:
                a, b = rows["after"], rows["before"]
                for key, label in (("single", "deliveries/s, one write"),
                                   ("burst", "deliveries/s, burst"),
                                   ("ratio", "deliveries/s ÷ GET"),
                                   ("cpu_ratio", "per CPU s ÷ GET")):
                    print(f"after ÷ before, {label:<24}" + _spread(
                        [x / y for x, y in zip(a[key], b[key])], "{:.2f}"))
                print("after ÷ before, CPU per delivery        " + _spread(
                    [x / y for x, y in zip(a["cpu_us"], b["cpu_us"])], "{:.2f}"))
            if floors["single"]:
                print(f"raw Hypercorn floor: one write {_spread(floors['single'], '{:.0f}')}/s; "
                      f"burst {_spread(floors['burst'], '{:.0f}')}/s")
            print(f"load average after: {os.getloadavg()[0]:.2f}")
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
