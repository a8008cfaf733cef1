"""What auditing costs a read: GET of one configmap with audit events written to a file, against
the same GET on a server without auditing, in one run.

One ``kernel serve --plugins=api_core,storage_memory,audit`` process per row, each with the
same object, differing only in their audit flags (the ROWS table; add a row for another
backend there):

- **GET (no audit)**: no policy, no backend: the audit filter is not in the chain;
- **GET, Metadata → file**: a policy auditing every request at ``Metadata`` and the log backend
  (JSON lines, blocking mode, rotation at 100 MB) writing to a file in the temporary directory;
  a probe request proves its events reach the file before the row is measured;
- **GET, Metadata → webhook** and **→ slow webhook**: the same policy and the webhook backend
  (kube's batch mode, its defaults but a 1 s max-wait) posting to a local HTTPS webhook that
  answers at once, or holds every batch 5 s: requests must not wait for the slow one (its p99
  against the fast one's).

``wrk`` drives (bench/api.py's runner: one thread, keep-alive, TLS), rounds interleaved; servers
pinned to one core (the log's writer thread included), wrk to the other when two are available.
The issue's target: GET with Metadata audit to a file ÷ GET without audit ≥ 0.85.

    .venv/bin/python bench/audit.py [--rounds 5] [--duration 3] [--connections 32]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from api import WRK_REPORT, Load, Server, _pinning, combine, run_wrk  # noqa: E402

from kernel.testing import KernelProcess, start_kernel  # noqa: E402
from kernel_webhook.testing import WebhookServer  # noqa: E402

PLUGINS = "--plugins=api_core,storage_memory,audit"
TARGET = "/api/v1/namespaces/default/configmaps/target"
METADATA_POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"


@dataclass
class Row:
    label: str
    flags: Callable[[Path], list[str]]  # the server's audit flags, given the row's directory
    ready: Callable[[KernelProcess, Path], None] = lambda kernel, work: None  # prove it is on
    baseline: bool = False
    loads: list[Load] = field(default_factory=list)


def metadata_to_file(work: Path) -> list[str]:
    (work / "policy.yaml").write_text(METADATA_POLICY)
    return [f"--audit-policy-file={work / 'policy.yaml'}", f"--audit-log-path={work / 'audit.log'}"]


def events_reach_the_file(kernel: KernelProcess, work: Path) -> None:
    with kernel.client() as client:
        audit_id = client.get(TARGET).headers["audit-id"]
    deadline = time.monotonic() + 10
    while audit_id not in (work / "audit.log").read_text():
        if time.monotonic() > deadline:
            raise SystemExit("the audit log got no event for the probe request")
        time.sleep(0.05)


FAST_WEBHOOK = WebhookServer(lambda path, body: {})
SLOW_WEBHOOK = WebhookServer(lambda path, body: {})
SLOW_WEBHOOK.delay = 5.0  # seconds per batch


def metadata_to(webhook: WebhookServer) -> Callable[[Path], list[str]]:
    def flags(work: Path) -> list[str]:
        (work / "policy.yaml").write_text(METADATA_POLICY)
        config = webhook.write_kubeconfig(work / "sink.kubeconfig", "/audit")
        return [f"--audit-policy-file={work / 'policy.yaml'}",
                f"--audit-webhook-config-file={config}", "--audit-webhook-batch-max-wait=1s"]
    return flags


def events_reach(webhook: WebhookServer) -> Callable[[KernelProcess, Path], None]:
    def probe(kernel: KernelProcess, work: Path) -> None:
        with kernel.client() as client:
            audit_id = client.get(TARGET).headers["audit-id"]
        deadline = time.monotonic() + 20
        while not any(event["auditID"] == audit_id for _, _, body in list(webhook.requests)
                      for event in body["items"]):
            if time.monotonic() > deadline:
                raise SystemExit("the audit webhook got no event for the probe request")
            time.sleep(0.05)
    return probe


ROWS = [
    Row("GET (no audit)", lambda work: [], baseline=True),
    Row("GET, Metadata → file", metadata_to_file, events_reach_the_file),
    Row("GET, Metadata → webhook", metadata_to(FAST_WEBHOOK), events_reach(FAST_WEBHOOK)),
    Row("GET, Metadata → slow webhook", metadata_to(SLOW_WEBHOOK), events_reach(SLOW_WEBHOOK)),
]


def serve(row: Row, work: Path, pin: list[str]) -> tuple[KernelProcess, Server]:
    work.mkdir(parents=True)
    kernel = start_kernel(work, PLUGINS, *row.flags(work), command_prefix=pin)
    with kernel.client() as client:
        response = client.post("/api/v1/namespaces/default/configmaps",
                               json={"metadata": {"name": "target"}, "data": {"payload": "x" * 300}})
        assert response.status_code == 201, response.text
    row.ready(kernel, work)
    server = Server(row.label, kernel.process, int(kernel.url.rsplit(":", 1)[1]),  # type: ignore[arg-type]
                    {"Authorization": f"Bearer {kernel.token}"}, TARGET, "", "", "", "")
    return kernel, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/audit.py needs wrk (Debian: apt-get install -y wrk)")
    server_pin, load_pin, pinning = _pinning()
    with tempfile.TemporaryDirectory(prefix="kernel-bench-audit-") as tmp, FAST_WEBHOOK, SLOW_WEBHOOK:
        work = Path(tmp)
        script = work / "report.lua"
        script.write_text(WRK_REPORT)
        servers = []
        try:
            for index, row in enumerate(ROWS):
                servers.append(serve(row, work / f"row{index}", server_pin))
            for _ in range(args.rounds):
                for row, (_, server) in zip(ROWS, servers):
                    row.loads.append(run_wrk(server, load_pin, TARGET, script, args.connections,
                                             args.duration))
        finally:
            for kernel, _ in servers:
                kernel.stop()
    print(f"GET of one configmap, {args.rounds} interleaved rounds of {args.duration} s, "
          f"{args.connections} connections; {pinning}")
    print(f"  {'':30}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu µs':>9}  errors")
    combined = {row.label: combine(row.loads) for row in ROWS}
    for label, load in combined.items():
        print(f"  {label:30}{load.req_s:9.0f}{load.p50_ms:9.2f}{load.p99_ms:9.2f}"
              f"{load.cpu_us:9.0f}  {load.errors or '-'}")
    base = next(row for row in ROWS if row.baseline)
    for row in ROWS:
        if row.baseline:
            continue
        per_round = [r.req_s / b.req_s for r, b in zip(row.loads, base.loads)]
        target = " (target ≥ 0.85)" if "Metadata → file" in row.label else ""
        print(f"  {row.label} ÷ {base.label}: req/s "
              f"{combined[row.label].req_s / combined[base.label].req_s:.3f}{target}, cpu/request "
              f"{combined[row.label].cpu_us / combined[base.label].cpu_us:.3f}; per round "
              + ", ".join(f"{r:.2f}" for r in per_round)
              + f" (median {statistics.median(per_round):.2f}); p99 "
              f"{combined[row.label].p99_ms / combined[base.label].p99_ms:.2f}×")

    fast, slow = combined["GET, Metadata → webhook"], combined["GET, Metadata → slow webhook"]
    print(f"  a webhook holding each batch 5 s ÷ one answering at once: req/s "
          f"{slow.req_s / fast.req_s:.3f}, p50 {slow.p50_ms / fast.p50_ms:.2f}×, "
          f"p99 {slow.p99_ms / fast.p99_ms:.2f}×")


if __name__ == "__main__":
    main()
