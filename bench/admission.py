"""What admission configuration costs a write: CREATE with one ValidatingAdmissionPolicy of 3
rules bound to the created kind, and CREATE with one local HTTPS validating webhook, each against
the same CREATE with neither, in one run on one server.

One server (``kernel serve --plugins=api_core,storage_memory,api_admissionregistration,
admission_policy,admission_webhook``) serves every row; between rows the policy binding or the
webhook configuration is created or deleted through the API, and a probe request proves it is in
force (the policy refuses an object that breaks a rule; the webhook's call count grows) or gone
before the row starts:

- **CREATE**: POST of a ConfigMap (6 data keys, 2 labels), a new name each time;
- **CREATE + VAP**: the same with a ValidatingAdmissionPolicy of 3 CEL validations on
  configmaps, bound with ``validationActions: [Deny]``;
- **CREATE + webhook**: the same with a ValidatingWebhookConfiguration calling a webhook on this
  machine (Python's threaded HTTPS server, kept-alive connections, answering ``allowed: true``).

``wrk`` drives, closed loop over TLS, from the other core when there are two (the webhook
server shares the load core). Rows are interleaved over the rounds; each figure is the median.
The issue's target: CREATE + VAP ÷ CREATE ≥ 0.9. The webhook row has no target: it shows the
cost of one HTTPS round trip to a local webhook per write.

    python bench/admission.py [--rounds 3] [--duration 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import base64
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
from kernel.testing.tls import TLSRequestHandler, free_port, serve_https, serving_material  # noqa: E402

NAMESPACE = "bench"
COLLECTION = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
ADMISSION = "/apis/admissionregistration.k8s.io/v1"
FLAGS = ("--plugins=api_core,storage_memory,api_admissionregistration,admission_policy,admission_webhook",)
RULE = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}
VALIDATIONS = [
    {"expression": "object.metadata.name.size() <= 63", "message": "name too long"},
    {"expression": "!has(object.data) || object.data.size() <= 16", "message": "at most 16 keys"},
    {"expression": "!has(object.metadata.labels) || !('forbidden' in object.metadata.labels)",
     "message": "label forbidden"},
]


class AllowingWebhook(TLSRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real webhook server
    calls = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls += 1
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": {"uid": review["request"]["uid"], "allowed": True}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def configmap_template() -> str:
    data = ",".join(f'"k{i}":"value-{i}"' for i in range(6))
    return ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s","labels":{"app":"bench",'
            '"tier":"a"}},"data":{' + data + '}}')


def wrk_script() -> str:
    """POSTs of the ConfigMap under new names: ``<prefix>-<n>``, the prefix given per run."""
    return (f"local counter, prefix, template = 0, 'x', [[{configmap_template()}]]\n"
            "init = function(args) prefix = args[1] end\n"
            "request = function()\n"
            "  counter = counter + 1\n"
            f'  return wrk.format("POST", "{COLLECTION}", nil, string.format(template, prefix .. "-" .. counter))\n'
            "end\n" + WRK_REPORT)


def policy_objects() -> tuple[dict, dict]:
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": "bench"},
              "spec": {"matchConstraints": {"resourceRules": [RULE]}, "validations": VALIDATIONS}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": "bench"}, "spec": {"policyName": "bench", "validationActions": ["Deny"]}}
    return policy, binding


def webhook_configuration(port: int, ca_file: str) -> dict:
    ca = base64.b64encode(Path(ca_file).read_bytes()).decode()
    hook = {"name": "allow.bench.example.com", "rules": [RULE], "sideEffects": "None",
            "admissionReviewVersions": ["v1"], "failurePolicy": "Fail",
            "clientConfig": {"url": f"https://127.0.0.1:{port}/validate", "caBundle": ca}}
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "bench"}, "webhooks": [hook]}


def send(client: Client, method: str, path: str, body: str | None = None) -> int:
    """The status of one request, whatever it is."""
    client.connection.request(method, path, body, client.server.headers)
    response = client.connection.getresponse()
    response.read()
    return response.status


def wait_until(check, what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not in force after 10 s")
        time.sleep(0.05)


class Rows:
    """Puts the server in each row's configuration, proving it took effect."""

    def __init__(self, client: Client, webhook: dict) -> None:
        self.client, self.webhook, self.probes = client, webhook, 0
        self.policy, self.binding = policy_objects()
        client.request("POST", f"{ADMISSION}/validatingadmissionpolicies", json.dumps(self.policy))

    def _probe(self, keys: int) -> int:
        """A ConfigMap of ``keys`` data keys: more than 16 breaks the policy."""
        self.probes += 1
        body = {"metadata": {"name": f"probe-{self.probes}"}, "data": {f"k{i}": "v" for i in range(keys)}}
        return send(self.client, "POST", COLLECTION, json.dumps(body))

    def none(self) -> None:
        for path in ("validatingadmissionpolicybindings/bench", "validatingwebhookconfigurations/bench"):
            send(self.client, "DELETE", f"{ADMISSION}/{path}")
        calls = AllowingWebhook.calls
        wait_until(lambda: self._probe(20) == 201 and AllowingWebhook.calls == calls, "no admission")

    def policy_row(self) -> None:
        self.client.request("POST", f"{ADMISSION}/validatingadmissionpolicybindings", json.dumps(self.binding))
        wait_until(lambda: self._probe(20) >= 400, "the policy")

    def webhook_row(self) -> None:
        self.client.request("POST", f"{ADMISSION}/validatingwebhookconfigurations", json.dumps(self.webhook))
        calls = AllowingWebhook.calls
        wait_until(lambda: self._probe(1) == 201 and AllowingWebhook.calls > calls, "the webhook")


def measure(args: argparse.Namespace, work: Path) -> dict[str, list[Load]]:
    server_pin, load_pin, pinning = _pinning()
    print(pinning)
    ca_file, cert_file, key_file = serving_material(work / "webhook")
    port = free_port()
    webhook = serve_https(AllowingWebhook, port, cert_file, key_file, name="bench-webhook")
    kernel = testing.start_kernel(work / "kernel", *FLAGS, command_prefix=server_pin)
    server = Server("kernel", kernel.process, int(kernel.url.rsplit(":", 1)[1]),
                    {"Authorization": f"Bearer {kernel.token}", "Accept": "application/json",
                     "Content-Type": "application/json"},
                    get_path="", list_path=COLLECTION, create_path=COLLECTION, watch_path="", event_path="")
    try:
        client = Client(server, ssl.create_default_context(cafile=kernel.ca_file))
        client.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": NAMESPACE}}))
        rows = Rows(client, webhook_configuration(port, ca_file))
        script = work / "create.lua"
        script.write_text(wrk_script())
        plan = [("CREATE", rows.none), ("CREATE + VAP (3 rules)", rows.policy_row),
                ("CREATE", rows.none), ("CREATE + webhook", rows.webhook_row)]
        runs: dict[str, list[Load]] = {label: [] for label, _ in plan}
        for round_ in range(args.rounds):
            for index, (label, setup) in enumerate(plan):
                setup()
                runs[label].append(run_wrk(server, load_pin, COLLECTION, script, args.connections,
                                           args.duration, [f"r{round_}-{index}"]))
        return runs
    finally:
        server.stop()
        webhook.shutdown()
        webhook.server_close()


def report(runs: dict[str, list[Load]]) -> None:
    median = statistics.median
    rates = {label: median(r.req_s for r in loads) for label, loads in runs.items()}
    print(f"\n{'':24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu µs':>9}  errors")
    for label, loads in runs.items():
        errors = "; ".join(r.errors for r in loads if r.errors) or "-"
        print(f"{label:24}{rates[label]:9.0f}{median(r.p50_ms for r in loads):9.2f}"
              f"{median(r.p99_ms for r in loads):9.2f}{median(r.cpu_us for r in loads):9.0f}  {errors}")
    base = rates["CREATE"]
    print(f"\nCREATE with one 3-rule VAP ÷ CREATE:        {rates['CREATE + VAP (3 rules)'] / base:.2f} (target ≥ 0.9)")
    print(f"CREATE with one local webhook ÷ CREATE:     {rates['CREATE + webhook'] / base:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/admission.py needs wrk (Debian: apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="kernel-bench-admission-") as work:
        runs = measure(args, Path(work))
    print(f"{args.rounds} interleaved rounds of {args.duration} s, {args.connections} connections; medians "
          "(the CREATE row is measured twice per round)")
    report(runs)


if __name__ == "__main__":
    main()
