"""Watch fan-out at scale: deliveries/s to N watchers ÷ the GET req/s of the same run.

Issue 18's target: at 1000 watchers, deliveries/s ≥ 20 × the GET req/s measured in the same
run on the same server. One ``kernel serve --plugins=api_core,storage_memory`` (pinned to one
core with taskset; wrk and the watch client on the other) serves, in each of ``--runs`` rounds:

- GET of one configmap with wrk (the same driver and settings as ``bench/api.py``);
- N HTTP/1.1 watch streams over TLS (``bench/api.py``'s raw trio client), then ``--writes``
  single writes: deliveries/s = N ÷ (write sent → the last watcher has the event), median of
  the writes; then ``--burst`` writes sent back to back: N × burst ÷ (first write sent → every
  watcher has the last one), which shows what batching pending events per watcher gives.

The raw Hypercorn-trio fan-out of ``bench/baseline_app.py`` (one memory channel per stream, one
ASGI send per line) runs in the same rounds as the floor a plain ASGI app reaches. Ratios are
printed per round, then the median and spread (min-max) over the rounds.

    python bench/fanout.py [--watchers 1000] [--runs 3] [--writes 5] [--burst 10] [--duration 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).parent))
import api  # noqa: E402  (bench/api.py: servers, wrk, the raw watch client)


async def burst(server: api.Server, context: ssl.SSLContext, watchers: int, writes: int,
                burst_size: int) -> tuple[list[float], float, float]:
    """Single writes (seconds until every watcher has each), then ``burst_size`` writes back to
    back (seconds until every watcher has the last of them); and the server's CPU seconds over
    the writes (opening the streams left out)."""
    namespace = f"bench-watch-{watchers}"
    path = server.watch_path.format(namespace=namespace)
    event_path = server.event_path.format(namespace=namespace)
    group = api.Watchers()
    singles: list[float] = []
    async with trio.open_nursery() as nursery:
        limiter = trio.CapacityLimiter(64)
        async with trio.open_nursery() as opening:
            for _ in range(watchers):
                opening.start_soon(group.open_one, server, context, path, limiter, nursery)
        writer = await api._open(server.port, context)
        buffer = bytearray()
        await trio.sleep(0.3)
        cpu = server.cpu_seconds()

        async def write(name: str) -> None:
            request = api._request_bytes(server, "POST", event_path,
                                         (api.CONFIGMAP % name).encode())
            await writer.send_all(request)
            code, body = await api._read_response(writer, buffer)
            if code != 201:
                raise SystemExit(f"{server.name}: POST {event_path} → {code}: {body[:300]!r}")

        async def wait(current: api.Round) -> None:
            with trio.move_on_after(60):
                await current.done.wait()
            if not current.done.is_set():
                raise SystemExit(f"{server.name}: only {len(current.arrivals)} of {watchers} "
                                 "watchers saw the event within 60 s")

        for i in range(writes):
            name = f"fan-{i:04d}-{os.urandom(4).hex()}"
            current = group.round = api.Round(f'"name":"{name}"'.encode(), watchers)
            current.t0 = time.perf_counter()
            await write(name)
            await wait(current)
            singles.append(current.arrivals[-1] - current.t0)
            await trio.sleep(0.1)
        # A burst: the watchers look for the last write's name only.
        names = [f"burst-{i:04d}-{os.urandom(4).hex()}" for i in range(burst_size)]
        current = group.round = api.Round(f'"name":"{names[-1]}"'.encode(), watchers)
        current.t0 = time.perf_counter()
        for name in names:
            await write(name)
        await wait(current)
        burst_s = current.arrivals[-1] - current.t0
        cpu = server.cpu_seconds() - cpu
        nursery.cancel_scope.cancel()
        for stream in [writer, *group.streams]:
            await trio.aclose_forcefully(stream)
    return singles, burst_s, cpu


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
            targets = [kernel]
            if not args.no_baseline:
                targets.append(api.start_baseline(work, server_pin, env, get_body, list_body))
                servers.append(targets[-1])
            report = work / "report.lua"
            report.write_text(api.WRK_REPORT)
            print(f"kernel serve --plugins=api_core,storage_memory, TLS, HTTP/1.1; {pinning}; "
                  f"{args.watchers} watchers; load average {os.getloadavg()[0]:.2f}")
            api.run_wrk(kernel, load_pin, kernel.get_path, report, args.connections, 2, ["w"])
            rows: dict[str, list[float]] = {key: [] for key in (
                "get", "single", "burst", "ratio", "burst_ratio", "floor", "floor_burst",
                "cpu_us")}
            for run in range(args.runs):
                get = api.run_wrk(kernel, load_pin, kernel.get_path, report, args.connections,
                                  args.duration, [f"g{run}"])
                measured: dict[str, tuple[float, float]] = {}
                for server in targets:
                    singles, burst_s, cpu = trio.run(burst, server, context, args.watchers,
                                                     args.writes, args.burst)
                    measured[server.name] = (args.watchers / statistics.median(singles),
                                             args.watchers * args.burst / burst_s)
                    if server is kernel:
                        # server CPU per delivery (the writes' sleeps cost nothing)
                        rows["cpu_us"].append(
                            cpu / (args.watchers * (args.writes + args.burst)) * 1e6)
                single, burst_rate = measured["kernel"]
                rows["get"].append(get.req_s)
                rows["single"].append(single)
                rows["burst"].append(burst_rate)
                rows["ratio"].append(single / get.req_s)
                rows["burst_ratio"].append(burst_rate / get.req_s)
                floor = measured.get("baseline")
                line = (f"run {run + 1}: GET {get.req_s:.0f} req/s; kernel fan-out "
                        f"{single:.0f} deliveries/s single (×{single / get.req_s:.1f} GET), "
                        f"{burst_rate:.0f} burst (×{burst_rate / get.req_s:.1f})")
                if floor:
                    rows["floor"].append(floor[0])
                    rows["floor_burst"].append(floor[1])
                    line += f"; raw Hypercorn floor {floor[0]:.0f} single, {floor[1]:.0f} burst"
                print(line, flush=True)
            print(f"\nmedian (min-max) over {args.runs} runs, {args.watchers} watchers:")
            print(f"  GET req/s                         {_spread(rows['get'], '{:.0f}')}")
            print(f"  fan-out deliveries/s, one write   {_spread(rows['single'], '{:.0f}')}"
                  f"  ÷ GET = {_spread(rows['ratio'])}  (target ≥ 20)")
            print(f"  fan-out deliveries/s, burst of {args.burst:<3}{_spread(rows['burst'], '{:.0f}')}"
                  f"  ÷ GET = {_spread(rows['burst_ratio'])}")
            print(f"  kernel CPU per delivery (µs)      {_spread(rows['cpu_us'])}")
            if rows["floor"]:
                print(f"  raw Hypercorn floor, one write    {_spread(rows['floor'], '{:.0f}')}"
                      f"; burst {_spread(rows['floor_burst'], '{:.0f}')}")
                print("  kernel ÷ floor, one write         " + _spread(
                    [k / f for k, f in zip(rows["single"], rows["floor"])], "{:.2f}"))
            print(f"load average after: {os.getloadavg()[0]:.2f}")
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
