"""Per core, side by side: the kernel and a real kube-apiserver on one etcd (issue 18's table).

kube-apiserver is the one ``../shared/kube-reference/`` builds (Kubernetes v1.36, with etcd 3.6
from the same tree when built, else Debian's etcd); ``--anchor`` is its work directory. One etcd,
its data on tmpfs; kube-apiserver on the default ``/registry`` prefix and the kernel
(``--plugins=api_core,storage_etcd3,api_rbac,authz_rbac --authorization-mode=RBAC``, the etcd3
defaults) on ``--etcd-prefix=/kernel``. Both are asked with a ``system:masters`` bearer token
(kube: a ``--token-auth-file``; the kernel: its admin kubeconfig's). A third column, the kernel on
storage_memory, shows what the etcd path costs.

With two or more cores and ``taskset``, every server runs on one core, etcd and wrk on another;
only the server being measured is loaded. GET (one configmap, ``resourceVersion`` unset: each
server's default read), LIST of 100 configmaps and CREATE are driven by wrk (closed loop,
keep-alive, HTTP/1.1 over TLS; with ``--http2`` h2load, one stream at a time per connection as
client-go sends, the CREATE a ``generateName`` POST), the servers' runs interleaved per round;
RSS is each server's VmRSS after all the loads.

Targets (issue 18): kernel on etcd ÷ kube-apiserver — GET ≥ 0.8, CREATE ≥ 0.8, LIST ≥ 1.2,
RSS ≤ 0.25.

``--before DIR`` adds an older tree's kernel on etcd (``git archive REV kernel plugins | tar -x -C
DIR``, run through ``bench/run_tree.py``, own ``--etcd-prefix``) as another column of the same rounds.

    python bench/kube_side_by_side.py [--anchor /tmp/kube-anchor] [--rounds 3] [--duration 5]
                                      [--before DIR] [--http2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from api import (  # noqa: E402
    CREATE_NAMESPACE, LIST_SIZE, NAMESPACE, Client, Server, _pinning, combine, interleaved_loads,
    prefill_kernel,
)

from kernel import testing  # noqa: E402
from kernel_storage_etcd3.testing import ETCD, free_port  # noqa: E402

TOKEN = "side-by-side-admin-token"
KERNEL_PLUGINS = "--plugins=api_core,storage_etcd3,api_rbac,authz_rbac"
TARGETS = {"GET configmap": (0.8, "≥"), f"LIST {LIST_SIZE} configmaps": (1.2, "≥"),
           "CREATE configmap": (0.8, "≥")}
RSS_TARGET = 0.25


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_etcd(anchor: Path, work: Path, pin: list[str]) -> tuple[subprocess.Popen[bytes], str, str]:
    """etcd 3.6 built beside kube-apiserver if there, else Debian's; data on tmpfs."""
    data = Path(tempfile.mkdtemp(prefix="side-by-side-etcd-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    etcd36 = anchor / "etcd36"
    if etcd36.exists():
        command = [str(etcd36), "--data-dir", str(data / "etcd"), "--listen-client-urls", url,
                   "--listen-peer-urls", f"http://127.0.0.1:{peer}"]
        version = "etcd 3.6 (kube-reference)"
    else:
        peer_url = f"http://127.0.0.1:{peer}"
        command = [ETCD, "--data-dir", str(data / "etcd"), "--listen-client-urls", url,
                   "--advertise-client-urls", url, "--listen-peer-urls", peer_url,
                   "--initial-advertise-peer-urls", peer_url, "--initial-cluster", f"default={peer_url}",
                   "--log-level", "warn"]
        version = "Debian's etcd"
    process = subprocess.Popen([*pin, *command], stdout=(work / "etcd.log").open("w"),
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if b"true" in response.read():
                    return process, url, version
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"etcd did not start:\n{(work / 'etcd.log').read_text()[-2000:]}")
        time.sleep(0.1)


def start_kube(anchor: Path, work: Path, pin: list[str], etcd_url: str) -> tuple[Server, ssl.SSLContext]:
    pki = work / "kube-pki"
    pki.mkdir()
    (pki / "tokens.csv").write_text(f"{TOKEN},admin,admin,system:masters\n")
    subprocess.run(["openssl", "genrsa", "-out", str(pki / "sa.key"), "2048"], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub")],
                   check=True, capture_output=True)
    port = free_port()
    log = work / "kube-apiserver.log"
    process = subprocess.Popen(
        [*pin, str(anchor / "kube-apiserver"), f"--etcd-servers={etcd_url}", "--bind-address=127.0.0.1",
         "--advertise-address=127.0.0.1", f"--secure-port={port}", f"--cert-dir={work / 'kube-certs'}",
         "--service-account-issuer=https://kubernetes.default.svc",
         f"--service-account-key-file={pki / 'sa.pub'}",
         f"--service-account-signing-key-file={pki / 'sa.key'}",
         f"--token-auth-file={pki / 'tokens.csv'}", "--authorization-mode=RBAC",
         "--service-cluster-ip-range=10.96.0.0/16", "--endpoint-reconciler-type=none"],
        stdout=log.open("w"), stderr=subprocess.STDOUT)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # its self-signed serving cert
    deadline = time.monotonic() + 120
    request = urllib.request.Request(f"https://127.0.0.1:{port}/readyz",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    began = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(request, timeout=2, context=context) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"kube-apiserver did not become ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    print(f"kube-apiserver ready in {time.monotonic() - began:.1f} s")
    return _server("kube-apiserver", process, port, TOKEN), context


def start_kernel(name: str, work: Path, pin: list[str], *args: str,
                 command: list[str] | None = None) -> tuple[Server, ssl.SSLContext]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    kernel = testing.start_kernel(work / name, *args, env=env, command_prefix=pin,
                                  command=command or [testing.KERNEL])
    return (_server(name, kernel.process, int(kernel.url.rsplit(":", 1)[1]), kernel.token),
            ssl.create_default_context(cafile=kernel.ca_file))


def _server(name: str, process: subprocess.Popen[bytes], port: int, token: str) -> Server:
    collection = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    return Server(name, process, port,
                  {"Authorization": f"Bearer {token}", "Accept": "application/json",
                   "Content-Type": "application/json"},
                  get_path=f"{collection}/cm-0", list_path=collection,
                  create_path=f"/api/v1/namespaces/{CREATE_NAMESPACE}/configmaps",
                  watch_path="", event_path="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--anchor", default=os.environ.get("ANCHOR", "/tmp/kube-anchor"),
                        help="kube-reference's work directory (holds kube-apiserver, maybe etcd36)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-memory", action="store_true", help="leave out the kernel on storage_memory")
    parser.add_argument("--before", help="an older tree's kernel on etcd as another column")
    parser.add_argument("--http2", action="store_true", help="load with h2load (HTTP/2), not wrk")
    args = parser.parse_args()
    anchor = Path(args.anchor)
    if not (anchor / "kube-apiserver").exists():
        raise SystemExit(f"no {anchor / 'kube-apiserver'}: build it with ../shared/kube-reference/")
    tool = "h2load" if args.http2 else "wrk"
    if not shutil.which(tool):
        raise SystemExit(f"{tool} is not installed: apt-get install -y "
                         f"{'nghttp2-client' if args.http2 else 'wrk'}")
    server_pin, load_pin, pinning = _pinning()
    started: list[Server] = []
    etcd: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-side-by-side-") as tmp:
        work = Path(tmp)
        try:
            etcd, etcd_url, etcd_version = start_etcd(anchor, work, load_pin)
            kube, kube_context = start_kube(anchor, work, server_pin, etcd_url)
            started.append(kube)
            kernel, kernel_context = start_kernel(
                "kernel on etcd", work, server_pin, KERNEL_PLUGINS, "--authorization-mode=RBAC",
                "--storage-backend=etcd3", f"--etcd-servers={etcd_url}", "--etcd-prefix=/kernel")
            started.append(kernel)
            servers = [(kube, kube_context), (kernel, kernel_context)]
            if args.before:
                run_tree = str(Path(__file__).with_name("run_tree.py"))
                before, before_context = start_kernel(
                    "before, on etcd", work, server_pin, KERNEL_PLUGINS, "--authorization-mode=RBAC",
                    "--storage-backend=etcd3", f"--etcd-servers={etcd_url}", "--etcd-prefix=/before",
                    command=[sys.executable, run_tree, args.before, testing.KERNEL])
                started.append(before)
                servers.append((before, before_context))
            if not args.no_memory:
                memory, memory_context = start_kernel(
                    "kernel on memory", work, server_pin,
                    KERNEL_PLUGINS.replace("storage_etcd3", "storage_memory"),
                    "--authorization-mode=RBAC", "--storage-backend=memory")
                started.append(memory)
                servers.append((memory, memory_context))
            for server, context in servers:
                prefill_kernel(server, context, [NAMESPACE, CREATE_NAMESPACE])
                Client(server, context).request("GET", server.get_path)
            print(f"{etcd_version}, data on tmpfs; {pinning}; "
                  f"{'h2load -m1' if args.http2 else 'wrk -t1'} -c{args.connections}, "
                  f"{args.rounds} x {args.duration} s per server and test, interleaved; "
                  f"load average before: {os.getloadavg()[0]:.2f}")
            every_run = interleaved_loads([server for server, _ in servers], load_pin, work,
                                          args.connections, args.rounds, args.duration, warmup=2,
                                          http2=args.http2)
            loads = {test: {name: combine(r) for name, r in runs.items()}
                     for test, runs in every_run.items()}
            for test, runs in every_run.items():
                for name, r in runs.items():
                    errors = [x.errors for x in r if x.errors]
                    if errors:
                        print(f"  {test} on {name}: {'; '.join(errors)}")
            rss = {server.name: rss_mb(server.process.pid) for server, _ in servers}
            names = [server.name for server, _ in servers]
            print()
            print(f"| | {' | '.join(names)} | kernel on etcd ÷ kube | target |")
            print(f"|---|{'---|' * len(names)}---|---|")
            for test, by_name in loads.items():
                target, sign = TARGETS[test]
                ratio = by_name["kernel on etcd"].req_s / by_name["kube-apiserver"].req_s
                cells = " | ".join(f"{by_name[n].req_s:.0f} req/s ({by_name[n].cpu_us:.0f} µs CPU)"
                                   for n in names)
                print(f"| {test} | {cells} | **{ratio:.2f}** | {sign} {target} |")
            ratio = rss["kernel on etcd"] / rss["kube-apiserver"]
            print(f"| RSS after the loads | {' | '.join(f'{rss[n]:.0f} MB' for n in names)} | "
                  f"**{ratio:.2f}** | ≤ {RSS_TARGET} |")
            for test, runs in every_run.items():
                ratios = [k.req_s / q.req_s for k, q in zip(runs["kernel on etcd"], runs["kube-apiserver"])]
                print(f"{test}: kernel on etcd ÷ kube per round {', '.join(f'{r:.2f}' for r in ratios)}")
            print(f"\nload average after: {os.getloadavg()[0]:.2f}")
            print(json.dumps({test: {n: round(by_name[n].req_s) for n in names}
                              for test, by_name in loads.items()} | {"rss_mb": rss}))
        finally:
            for server in reversed(started):
                server.stop()
            if etcd is not None:
                etcd.terminate()
                etcd.wait(20)


if __name__ == "__main__":
    main()
