"""Startup to ready: how long ``kernel serve`` takes from spawn until GET /readyz answers 200.

Compared, in the same run and interleaved, with a floor: a ``python -c`` that imports trio and
hypercorn and serves a raw ASGI app over TLS (same certificate) until it answers. The ratio
separates the kernel's own startup cost from the interpreter + libraries. The kernel's series is a
restart: the certificates and the data directory of its earlier starts (each series has its own
data directory). A third series starts the kernel on a fresh --cert-dir each time, so the
difference is the cost of generating the CA and serving certificate (and of what the new CA
makes the root CA publisher rewrite).

Each server reports its port by writing a file once it listens (the kernel: --write-kubeconfig;
the floor: a port file); the client then polls /readyz over a new TLS connection every 2 ms.
The server's CPU time (user + system, from /proc) until ready is printed too: on a shared
machine wall time follows the other load, CPU time much less.

``--same-port`` starts every kernel on one port, as a restarted server would be (by default each
start gets a new port, so the ``kubernetes`` Service's endpoints change and are written at every
start of a build serving them). ``--plugins`` passes a selection to ``kernel serve`` (the
trimmed build: ``--plugins=api_core,storage_sqlite,authn_x509,api_rbac,authz_rbac``);
``--baseline-kernel`` adds a series started from another installation's ``kernel`` command (say
a checkout of main), interleaved with the others, for a before/after in one run.

    python bench/startup.py [--runs 5] [--plugins a,b] [--baseline-kernel PATH] [--same-port]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

KERNEL = str(Path(sys.executable).with_name("kernel"))
POLL_INTERVAL = 0.002

FLOOR = r"""
import os, sys, trio
from hypercorn.config import Config
from hypercorn.trio import serve

cert, key, port_file = sys.argv[1:4]

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})

async def main():
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.certfile, config.keyfile = cert, key
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(lambda task_status: serve(app, config, task_status=task_status))
        with open(port_file + ".tmp", "w") as out:
            out.write(binds[0].rsplit(":", 1)[1])
        os.replace(port_file + ".tmp", port_file)

trio.run(main)
"""


@dataclass
class Series:
    name: str
    listening: list[float] = field(default_factory=list)  # spawn → port known
    ready: list[float] = field(default_factory=list)  # spawn → /readyz 200
    cpu: list[float] = field(default_factory=list)  # the server's CPU time (user + system) then

    def row(self, values: list[float]) -> str:
        ms = [v * 1000 for v in values]
        return (f"{self.name:<34} {statistics.median(ms):8.1f} {min(ms):8.1f} {max(ms):8.1f}")


def _readyz_ok(port: int, context: ssl.SSLContext) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            # As Go and httpx do; without it Nagle holds the request ~40 ms behind the TLS 1.3
            # Finished message waiting for a delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with context.wrap_socket(sock, server_hostname="localhost") as tls:
                tls.sendall(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                return tls.recv(64).startswith(b"HTTP/1.1 200")
    except (ConnectionError, ssl.SSLError, OSError):
        return False


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process: unlike wall time, barely moved by other load on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(argv: list[str], port_file: Path, read_port: Callable[[str], int], ca_file: str,
             env: dict[str, str]) -> tuple[float, float, float]:
    port_file.unlink(missing_ok=True)
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        while not port_file.exists():
            if process.poll() is not None:
                raise SystemExit(f"{argv[0]} exited: {process.stderr.read().decode()}")
            time.sleep(POLL_INTERVAL)
        listening = time.perf_counter() - start
        port = read_port(port_file.read_text())
        context = ssl.create_default_context(cafile=ca_file)
        while not _readyz_ok(port, context):
            time.sleep(POLL_INTERVAL)
        ready = time.perf_counter() - start
        return listening, ready, _cpu_seconds(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _kubeconfig_port(text: str) -> int:
    return int(re.search(r'"server": "https://[^"]+:(\d+)"', text).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="starts per series (default 5)")
    parser.add_argument("--plugins", default=None, help="--plugins for kernel serve (default: all)")
    parser.add_argument("--baseline-kernel", default=None,
                        help="another kernel command to measure in the same run (reused certs)")
    parser.add_argument("--same-port", action="store_true",
                        help="every kernel start listens on one port, as a restarted server does "
                             "(default: a new port each start, which the kubernetes Service's "
                             "endpoints then follow: a write at every start)")
    args = parser.parse_args()

    # Installed plugins only; and bytecode caches written, as a pip install leaves them: with
    # PYTHONDONTWRITEBYTECODE a module whose cache is stale (one just edited, an editable
    # install's finder) is compiled again at every start (2.2-2.4 of the floor here, not 1.5).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        work = Path(tmp)
        reused = work / "certs"
        kubeconfig = work / "kubeconfig"
        port = _free_port() if args.same_port else 0
        serve = ["serve", f"--secure-port={port}", "--bind-address=127.0.0.1",
                 f"--write-kubeconfig={kubeconfig}"]
        if args.plugins is not None:
            serve.append(f"--plugins={args.plugins}")
        # Each series its own data directory: a restart finds what it wrote itself (with
        # another series' CA in it, the root CA publisher would rewrite its ConfigMaps).
        kernel_argv = [KERNEL, *serve, f"--data-dir={work / 'data-reused'}"]
        baseline_argv = [args.baseline_kernel, *serve, f"--data-dir={work / 'data-baseline'}",
                         f"--cert-dir={reused}"] if args.baseline_kernel else []
        # Unmeasured starts create the reused cert dir and each restarted series' data, and warm
        # the OS file cache.
        for argv in ([*kernel_argv, f"--cert-dir={reused}"], baseline_argv):
            if argv:
                _measure(argv, kubeconfig, _kubeconfig_port, str(reused / "ca.crt"), env)

        floor = Series("floor: python + trio + hypercorn")
        warm = Series("kernel serve, reused --cert-dir")
        fresh = Series("kernel serve, fresh --cert-dir")
        baseline = Series("baseline kernel, reused --cert-dir")
        port_file = work / "port"
        floor_argv = [sys.executable, "-c", FLOOR, str(reused / "apiserver.crt"),
                      str(reused / "apiserver.key"), str(port_file)]
        fresh_argv = [KERNEL, *serve, f"--data-dir={work / 'data-fresh'}"]
        for run in range(args.runs):  # interleaved, so drift affects every series alike
            extra = [] if not baseline_argv else [
                (baseline, baseline_argv, kubeconfig, _kubeconfig_port, reused / "ca.crt")]
            for series, argv, ready_file, read_port, ca in (*extra,
                    (floor, floor_argv, port_file, int, reused / "ca.crt"),
                    (warm, [*kernel_argv, f"--cert-dir={reused}"], kubeconfig, _kubeconfig_port,
                     reused / "ca.crt"),
                    (fresh, [*fresh_argv, f"--cert-dir={work / f'fresh-{run}'}"], kubeconfig,
                     _kubeconfig_port, work / f"fresh-{run}" / "ca.crt")):
                listening, ready, cpu = _measure(argv, ready_file, read_port, str(ca), env)
                series.listening.append(listening)
                series.ready.append(ready)
                series.cpu.append(cpu)

    print(f"startup to ready, {args.runs} runs each (ms)")
    print(f"{'':<34} {'median':>8} {'min':>8} {'max':>8}")
    shown = (floor, warm, fresh, *([baseline] if args.baseline_kernel else []))
    for series in shown:
        print(series.row(series.ready))
    print("\nthe server's CPU time (user + system) until ready, ms")
    for series in shown:
        print(series.row(series.cpu))
    print("\nspawn until listening (port file / kubeconfig written), ms")
    for series in shown:
        print(series.row(series.listening))
    median = statistics.median
    print(f"\nratio kernel (reused certs) / floor, medians: {median(warm.ready) / median(floor.ready):.2f}")
    print(f"ratio kernel (reused certs) / floor, CPU time medians: "
          f"{median(warm.cpu) / median(floor.cpu):.2f}")
    if args.baseline_kernel:
        print(f"ratio baseline kernel / floor, medians: {median(baseline.ready) / median(floor.ready):.2f}")
        print(f"ratio baseline kernel / floor, CPU time medians: "
              f"{median(baseline.cpu) / median(floor.cpu):.2f}")
    print(f"kernel startup cost over the floor: {(median(warm.ready) - median(floor.ready)) * 1000:.1f} ms")
    print(f"certificate generation (fresh - reused, medians): "
          f"{(median(fresh.ready) - median(warm.ready)) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
