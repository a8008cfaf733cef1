"""HTTP/2 against HTTP/1.1 on one kernel, and against another kernel: GET, LIST and CREATE.

kubectl, client-go and every informer speak HTTP/2; ``api.py`` measures with wrk (HTTP/1.1).
This script starts ``kernel serve --plugins=api_core,storage_memory`` (as ``api.py`` does, filled
the same way) and loads it with h2load (Debian's ``nghttp2-client``; one stream at a time per
connection, as a client-go request is) and with wrk for the same requests over HTTP/1.1. With
``--baseline-kernel`` a second kernel (another installation's ``kernel`` command, say main's)
runs the same loads in the same interleaved rounds. It prints req/s and the server's CPU per
request (from /proc), and each kernel's HTTP/2 ÷ HTTP/1.1 CPU per request.

    python bench/http2.py [--rounds 3] [--seconds 5] [--connections 8]
                          [--baseline-kernel /path/to/other/venv/bin/kernel]
"""

from __future__ import annotations

import argparse
import os
import ssl
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import api  # noqa: E402  (the kernel's start, fill and wrk runs)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--baseline-kernel", default=None,
                        help="another installation's kernel command, run in the same rounds")
    args = parser.parse_args()
    server_pin, load_pin, pinning = api._pinning()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    commands = {"kernel": [api.testing.KERNEL]}
    if args.baseline_kernel:
        commands["baseline"] = [args.baseline_kernel]
    with tempfile.TemporaryDirectory(prefix="bench-http2-") as tmp:
        work = Path(tmp)
        (work / "create.json").write_text(api.CREATE_GENERATE_NAME)
        (work / "report.lua").write_text(api.WRK_REPORT)
        servers: list[api.Server] = []
        try:
            for name, command in commands.items():
                server, ca_file = api.start_kernel(work / name, server_pin, env, command)
                server.name = name
                api.prefill_kernel(server, ssl.create_default_context(cafile=ca_file),
                                   [api.NAMESPACE, api.CREATE_NAMESPACE])
                servers.append(server)
            print(f"kernel serve --plugins=api_core,storage_memory; {pinning}; "
                  f"{args.connections} connections, {args.rounds} rounds of {args.seconds} s\n")
            tests = (("GET configmap", lambda s: s.get_path, None),
                     (f"LIST {api.LIST_SIZE} configmaps", lambda s: s.list_path, None),
                     ("CREATE configmap", lambda s: s.create_path, work / "create.json"))
            print(f"{'':<22} {'server':<9} {'HTTP/2 req/s':>13} {'CPU µs':>8} "
                  f"{'HTTP/1.1 req/s':>15} {'CPU µs':>8} {'h2 ÷ h1 CPU':>12}")
            for test, path_of, body in tests:
                h2: dict[str, list[api.Load]] = {s.name: [] for s in servers}
                h1: dict[str, list[api.Load]] = {s.name: [] for s in servers}
                for server in servers:  # warm-up
                    api.run_h2load(server, load_pin, path_of(server), args.connections, 1, body)
                for _ in range(args.rounds):
                    for server in servers:
                        h2[server.name].append(api.run_h2load(server, load_pin, path_of(server),
                                                          args.connections, args.seconds, body))
                        if body is None:  # wrk's CREATE needs its own script: api.py has it
                            h1[server.name].append(api.run_wrk(
                                server, load_pin, path_of(server), work / "report.lua",
                                args.connections, args.seconds))
                for server in servers:
                    two = api.combine(h2[server.name])
                    one = api.combine(h1[server.name]) if h1[server.name] else None
                    spread = [round(r.cpu_us) for r in h2[server.name]]
                    print(f"{test:<22} {server.name:<9} {two.req_s:>13.0f} {two.cpu_us:>8.0f} "
                          f"{one.req_s if one else float('nan'):>15.0f} "
                          f"{one.cpu_us if one else float('nan'):>8.0f} "
                          f"{two.cpu_us / one.cpu_us if one else float('nan'):>12.2f}"
                          f"   (HTTP/2 CPU by round {spread}){'  ' + two.errors if two.errors else ''}")
                if len(servers) == 2:
                    after, before = (api.combine(h2[s.name]).cpu_us for s in servers)
                    print(f"{'':<22} HTTP/2 CPU per request, kernel ÷ baseline: "
                          f"{after / before:.2f} (median of rounds "
                          f"{statistics.median(a.cpu_us / b.cpu_us for a, b in zip(*h2.values())):.2f})")
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
