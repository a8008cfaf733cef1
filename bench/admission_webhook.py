"""What an admission webhook costs: CREATE of a ConfigMap in a namespace one local validating
webhook applies to, against the same CREATE in a namespace it does not apply to, in one run on
one server.

The server: ``kernel serve --plugins=api_core,api_admissionregistration,admission_webhook,
storage_memory --authorization-mode=AlwaysAllow``. The webhook: a ValidatingWebhookConfiguration
(failurePolicy Fail, namespaceSelector ``webhook: "on"``) calling an HTTPS server on this machine
(``kernel_webhook.testing.WebhookServer``: Python's threading http.server with its own CA, in this
process) that allows every request. So the "with" figure includes matching, the AdmissionReview
built and sent over TLS (pooled connections), the webhook's answer and its checks.

``wrk`` drives, closed loop over TLS, POSTing ConfigMaps with fresh names; rounds are interleaved
(without, with) and each figure is the median of the rounds.

    python bench/admission_webhook.py [--rounds 3] [--duration 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from api import WRK_REPORT, Client, Load, Server, _pinning, run_wrk  # noqa: E402

from kernel import testing  # noqa: E402
from kernel_webhook.testing import WebhookServer  # noqa: E402

FLAGS = ("--plugins=api_core,api_admissionregistration,admission_webhook,storage_memory",
         "--authorization-mode=AlwaysAllow")
NAMESPACES = {"without": "bench-plain", "with": "bench-hooked"}
CONFIGMAP = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s"},"data":{"k":"v"}}'


def wrk_script(prefix: str) -> str:
    """POST a ConfigMap named ``<prefix>-<n>``, n counting up (wrk's per-thread counter)."""
    return ("local counter = 0\n"
            "request = function()\n"
            "  counter = counter + 1\n"
            f'  return wrk.format("POST", nil, {{["Content-Type"] = "application/json"}},\n'
            f'    string.format([[{CONFIGMAP}]], "{prefix}-" .. counter))\n'
            "end\n" + WRK_REPORT)


def allow(path: str, review: dict) -> dict:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": review["request"]["uid"], "allowed": True}}


def start(work: Path, pin: list[str]) -> tuple[Server, ssl.SSLContext]:
    kernel = testing.start_kernel(work / "kernel", *FLAGS, command_prefix=pin)
    collection = f"/api/v1/namespaces/{NAMESPACES['without']}/configmaps"
    server = Server("kernel", kernel.process, int(kernel.url.rsplit(":", 1)[1]),
                    {"Authorization": f"Bearer {kernel.token}", "Accept": "application/json",
                     "Content-Type": "application/json"},
                    get_path="", list_path=collection, create_path=collection, watch_path="", event_path="")
    return server, ssl.create_default_context(cafile=kernel.ca_file)


def configure(server: Server, context: ssl.SSLContext, webhook: WebhookServer) -> None:
    """The namespaces and the webhook configuration; returns once a CREATE reaches the webhook."""
    client = Client(server, context)
    for which, name in NAMESPACES.items():
        labels = {"webhook": "on"} if which == "with" else {}
        client.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": name, "labels": labels}}))
    hook = {"name": "bench.example.com", "clientConfig": webhook.client_config("/validate"),
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                       "resources": ["configmaps"]}],
            "namespaceSelector": {"matchLabels": {"webhook": "on"}}, "failurePolicy": "Fail",
            "sideEffects": "None", "admissionReviewVersions": ["v1"], "timeoutSeconds": 10}
    client.request("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                   json.dumps({"metadata": {"name": "bench"}, "webhooks": [hook]}))
    deadline = time.monotonic() + 10
    for n in range(10_000):  # the configuration reaches the plugin through its informer
        client.request("POST", f"/api/v1/namespaces/{NAMESPACES['with']}/configmaps", CONFIGMAP % f"probe-{n}")
        if webhook.requests or time.monotonic() > deadline:
            break
    if not webhook.requests:
        raise SystemExit("the webhook configuration never came into force")


def measure(args: argparse.Namespace, work: Path) -> dict[str, list[Load]]:
    server_pin, load_pin, pinning = _pinning()
    print(pinning)
    with WebhookServer(allow) as webhook:
        server, context = start(work, server_pin)
        try:
            configure(server, context, webhook)
            runs: dict[str, list[Load]] = {"CREATE without": [], "CREATE with webhook": []}
            for round_ in range(args.rounds):
                for label, which in (("CREATE without", "without"), ("CREATE with webhook", "with")):
                    script = work / f"{which}-{round_}.lua"
                    script.write_text(wrk_script(f"{which}-{round_}"))
                    path = f"/api/v1/namespaces/{NAMESPACES[which]}/configmaps"
                    runs[label].append(run_wrk(server, load_pin, path, script, args.connections, args.duration))
            calls = len(webhook.requests)
        finally:
            server.stop()
    print(f"webhook calls: {calls}")
    return runs


def report(runs: dict[str, list[Load]]) -> None:
    median = statistics.median
    rates = {label: median(r.req_s for r in loads) for label, loads in runs.items()}
    print(f"\n{'':22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu µs':>9}  errors")
    for label, loads in runs.items():
        errors = "; ".join(r.errors for r in loads if r.errors) or "-"
        print(f"{label:22}{rates[label]:9.0f}{median(r.p50_ms for r in loads):9.2f}"
              f"{median(r.p99_ms for r in loads):9.2f}{median(r.cpu_us for r in loads):9.0f}  {errors}")
    ratio = rates["CREATE with webhook"] / rates["CREATE without"]
    print(f"\nCREATE with one local validating webhook ÷ CREATE without: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/admission_webhook.py needs wrk (Debian: apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="kernel-bench-webhook-") as work:
        runs = measure(args, Path(work))
    print(f"{args.rounds} interleaved rounds of {args.duration} s, {args.connections} connections; medians")
    report(runs)


if __name__ == "__main__":
    main()
