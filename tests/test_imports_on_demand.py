"""The heavy optional libraries are imported by the first request that needs them, not at startup:
a server with every installed plugin has not imported cel-cpp (CEL: about 14 MB of RSS), httpx
(webhooks, aggregated APIs), Quart (the debug plugin's routes), cryptography (service-account
keys: about 9 MB), jsonpatch (mutating webhooks' answers), zoneinfo (CronJob time zones), csv
(--token-auth-file), gzip (compressed audit log backups) or PyYAML (configuration files, YAML
bodies) once it is ready and idle (its certificates already made). The first /debug
request, the first service-account token and the first ValidatingAdmissionPolicy then import
them and work as before.

The server runs under a wrapper whose audit hook logs each first import of those modules with the
stack that caused it, so a failure names the importer.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from kernel.testing import start_kernel

WATCHED = ("cel_expr_python", "cryptography", "httpx", "quart", "jsonpatch", "zoneinfo", "csv",
           "gzip", "yaml")
MARK = "imported-on-demand:"
WRAPPER = f"""
import sys, traceback

def hook(event, args):
    if event == "import" and args[0] in {WATCHED!r}:
        print({MARK!r}, args[0], "".join(traceback.format_stack(limit=12)), file=sys.stderr, flush=True)

sys.addaudithook(hook)
from kernel.cli import main
sys.exit(main())
"""
POLICIES = "/apis/admissionregistration.k8s.io/v1"
POLICY = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
          "metadata": {"name": "no-forbidden"},
          "spec": {"failurePolicy": "Fail",
                   "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                           "operations": ["CREATE"],
                                                           "resources": ["configmaps"]}]},
                   "validations": [{"expression": "object.metadata.name != 'forbidden'"}]}}
BINDING = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
           "metadata": {"name": "no-forbidden"},
           "spec": {"policyName": "no-forbidden", "validationActions": ["Deny"]}}


def imported(log: str) -> set[str]:
    return set(re.findall(MARK + r" (\S+)", log))


def test_idle_server_with_every_plugin_has_not_imported_optional_libraries(tmp_path: Path) -> None:
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(WRAPPER)
    certs = tmp_path / "certs"
    start_kernel(tmp_path / "first", cert_dir=certs).stop()  # generates the certificates and keys
    kernel = start_kernel(tmp_path / "k", cert_dir=certs, command=(sys.executable, str(wrapper)))
    try:
        with kernel.client() as client:
            assert client.get("/api/v1/namespaces/default/configmaps").status_code == 200
            assert imported(kernel.log()) == set(), kernel.log()

            assert client.get("/debug/flags/v").text.strip().isdigit()
            assert "quart" in imported(kernel.log())  # (with csv, which Quart's werkzeug uses)

            sa = "/api/v1/namespaces/default/serviceaccounts/default"
            deadline = time.monotonic() + 10
            while client.get(sa).status_code == 404 and time.monotonic() < deadline:
                time.sleep(0.05)  # made by the service account controller
            token = client.post(f"{sa}/token", json={"spec": {}}).json()["status"]["token"]
            assert "cryptography" in imported(kernel.log())
            review = client.post("/apis/authentication.k8s.io/v1/tokenreviews",
                                 json={"spec": {"token": token}}).json()
            assert review["status"]["user"]["username"] == "system:serviceaccount:default:default"

            assert client.post(f"{POLICIES}/validatingadmissionpolicies", json=POLICY).status_code == 201
            assert client.post(f"{POLICIES}/validatingadmissionpolicybindings",
                               json=BINDING).status_code == 201
            assert "cel_expr_python" in imported(kernel.log())
            forbidden = {"metadata": {"name": "forbidden"}}
            deadline = time.monotonic() + 10
            while True:  # the policy takes effect once the admission plugin's informers have it
                created = client.post("/api/v1/namespaces/default/configmaps", json=forbidden)
                if created.status_code == 422 or time.monotonic() > deadline:
                    break
                client.delete("/api/v1/namespaces/default/configmaps/forbidden")
                time.sleep(0.05)
            assert created.status_code == 422, created.text
            assert "object.metadata.name != 'forbidden'" in created.json()["message"]
            assert "httpx" not in imported(kernel.log())
    finally:
        kernel.stop()
