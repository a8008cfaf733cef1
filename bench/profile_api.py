"""Where a GET, LIST or CREATE spends its time: ``kernel serve`` under py-spy while wrk loads it.

Starts ``kernel serve --plugins=api_core,storage_memory`` under ``py-spy record`` (sampling,
non-blocking, idle frames left out), fills it as bench/api.py does, drives one verb with wrk
(32 connections; h2load over HTTP/2 with ``--http2``) for ``--seconds``, stops the server and summarises the samples:

- by owner: each sample goes to the innermost frame that belongs to the kernel (by module:
  filters, handlers, registry, storage, codecs...) or to Hypercorn/h11 (HTTP parsing, the
  protocol, and the kernel's Hypercorn subclasses in kernel.server.httpserver); samples with neither (trio's loop, the ssl module, the interpreter) are "event loop
  + TLS". The kernel's share is what the kernel could cut; the rest is the serving floor;
- the top functions by self time and by cumulative time (% of samples).

With ``--etcd`` the kernel runs ``--plugins=api_core,storage_etcd3`` on a fresh etcd (Debian's
``etcd-server``) instead: the etcd client's share shows as ``kernel: kernel_storage_etcd3...`` and
grpcio's and protobuf's Python frames as "etcd client libraries".

    python bench/profile_api.py get|list|create [--seconds 10] [--etcd] [--out bench/profiles/NAME.txt]

Needs ``py-spy`` in the venv (``.venv/bin/pip install py-spy``) and ``wrk``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import shlex
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import api  # noqa: E402  (bench/api.py: the same servers, fill and wrk scripts)

from kernel import testing  # noqa: E402

STACK = ("hypercorn", "h11", "wsproto")  # the serving stack's own code
HTTP2 = ("h2", "hpack", "hyperframe")  # HTTP/2's state machine, frames and header decoding
ETCD_CLIENT = ("grpc", "pyetcd", "google")
# kernel/server/httpserver.py and http2.py subclass Hypercorn's connection and protocol: what
# they run (reading the socket, TLS) is the serving stack's work, which the floor does too.
SERVING = ("kernel.server.httpserver", "kernel.server.http2", "kernel.server.http2frame",
           "kernel.server.hpackcodec")


def _module(frame: str) -> str:
    """``func (path/to/module.py:12)`` → a dotted module name relative to site-packages/repo."""
    path = frame.rsplit(" (", 1)[-1].rsplit(":", 1)[0]
    for marker in ("site-packages/", "/plugins/", "/i18-hotpath/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    path = path.removesuffix(".py").removesuffix("/__init__")
    parts = [p for p in path.split("/") if p and not p.startswith("python3") and p != "src"]
    if len(parts) > 1 and parts[1].startswith("kernel_"):  # plugins/<dir>/kernel_<name>/...
        parts = parts[1:]
    return ".".join(parts)


def _owner(stack: list[str]) -> str:
    for frame in reversed(stack):  # leaf first
        module = _module(frame)
        top = module.split(".", 1)[0]
        if module in ("kernel", "kernel.cli", "kernel.app", "kernel.command"):  # the process's root frames (script, cli)
            continue
        if module in SERVING:  # the kernel's Hypercorn subclasses: socket reads, TLS, HTTP/2
            return "hypercorn/h11 (HTTP)"
        if top == "kernel" or top.startswith("kernel_"):
            return "kernel: " + ".".join(module.split(".")[:3])
        if top in STACK:
            return "hypercorn/h11 (HTTP)"
        if top in HTTP2:
            return "h2, hpack, hyperframe (HTTP/2)"
        if top in ETCD_CLIENT:
            return "etcd client libraries (grpcio, pyetcd, protobuf)"
    return "event loop + TLS (trio, ssl, interpreter)"


def summarise(raw: Path, title: str, top: int = 30) -> str:
    owners: collections.Counter[str] = collections.Counter()
    self_time: collections.Counter[str] = collections.Counter()
    cumulative: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text:
            continue
        count = int(count_text)
        stack = [f for f in stack_text.split(";") if f and not f.startswith(("process ", "thread "))]
        if not stack:
            continue
        total += count
        owners[_owner(stack)] += count
        self_time[stack[-1]] += count
        for frame in set(stack):
            cumulative[frame] += count
    lines = [title, f"{total} samples", "", "by owner (innermost kernel or Hypercorn frame):"]
    kernel = sum(n for owner, n in owners.items() if owner.startswith("kernel"))
    lines.append(f"  {100 * kernel / total:5.1f}%  kernel, all modules")
    for owner, n in owners.most_common():
        lines.append(f"  {100 * n / total:5.1f}%  {owner}")
    lines += ["", f"top {top} by self time:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in self_time.most_common(top)]
    lines += ["", f"top {top} by cumulative time:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in cumulative.most_common(top)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("verb", choices=("get", "list", "create"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--kernel-command", default=testing.KERNEL,
                        help="what runs `serve` (default: this venv's kernel), e.g. another tree's")
    parser.add_argument("--raw", help="keep py-spy's collapsed stacks here")
    parser.add_argument("--out", help="write the summary here too")
    parser.add_argument("--etcd", action="store_true", help="the kernel on etcd3 (a fresh etcd)")
    parser.add_argument("--http2", action="store_true", help="load with h2load -m1, not wrk")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not py_spy or not shutil.which("wrk"):
        raise SystemExit("needs py-spy (.venv/bin/pip install py-spy) and wrk")
    server_pin, load_pin, pinning = api._pinning()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp, contextlib.ExitStack() as stack:
        work, raw = Path(tmp), Path(tmp) / "samples.txt"
        flags = ["--plugins=api_core,storage_memory"]
        if args.etcd:
            from kernel_storage_etcd3.testing import etcd_server
            etcd = stack.enter_context(etcd_server())
            flags = ["--plugins=api_core,storage_etcd3", "--storage-backend=etcd3",
                     f"--etcd-servers={etcd.url}"]
        kernel = testing.start_kernel(work, *flags, env=env, command_prefix=server_pin,
                                      command=shlex.split(args.kernel_command))
        try:
            port = int(kernel.url.rsplit(":", 1)[1])
            collection = f"/api/v1/namespaces/{api.NAMESPACE}/configmaps"
            server = api.Server(
                "kernel", kernel.process, port,  # type: ignore[arg-type]
                {"Authorization": f"Bearer {kernel.token}", "Accept": "application/json",
                 "Content-Type": "application/json"},
                get_path=f"{collection}/cm-0", list_path=collection,
                create_path=f"/api/v1/namespaces/{api.CREATE_NAMESPACE}/configmaps",
                watch_path="", event_path="")
            context = ssl.create_default_context(cafile=kernel.ca_file)
            api.prefill_kernel(server, context, [api.NAMESPACE, api.CREATE_NAMESPACE])
            report, create = work / "report.lua", work / "create.lua"
            report.write_text(api.WRK_REPORT)
            create.write_text(api.WRK_CREATE + api.WRK_REPORT)
            path = {"get": server.get_path, "list": server.list_path, "create": server.create_path}[args.verb]
            script = create if args.verb == "create" else report
            create_body = work / "create.json"
            create_body.write_text(api.CREATE_GENERATE_NAME)

            def run(seconds: int, marker: str) -> api.Load:
                if args.http2:
                    return api.run_h2load(server, load_pin, path, 32, seconds,
                                          create_body if args.verb == "create" else None)
                return api.run_wrk(server, load_pin, path, script, 32, seconds, [marker])

            run(1, "w")  # warm-up, not sampled
            # Attached for the load only: startup and the fill stay out of the samples.
            spy = subprocess.Popen(
                [*load_pin, py_spy, "record", "--nonblocking", "--format", "raw", "--rate",
                 str(args.rate), "--duration", str(args.seconds + 2), "-o", str(raw),
                 "--pid", str(kernel.process.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            load = run(args.seconds, "p")
            spy.wait(60)
        finally:
            kernel.stop()
        client = "h2load -m1 -c32" if args.http2 else "wrk -c32"
        title = (f"{args.verb.upper()}{' on etcd' if args.etcd else ''} under {client} for {args.seconds} s: {load.req_s:.0f} req/s "
                 f"(slowed by sampling at {args.rate}/s); {pinning}; load average "
                 f"{os.getloadavg()[0]:.1f} (shared machine)")
        summary = summarise(raw, title)
        if args.raw:
            shutil.copy(raw, args.raw)
    print(summary)
    if args.out:
        Path(args.out).write_text(summary)


if __name__ == "__main__":
    main()
