"""PyYAML is imported only when YAML is handled: an idle server (the trimmed build, RBAC with its
bootstrap policy applied) has not imported it; the first YAML response or body imports it and is
served as before.

The server runs under a wrapper whose audit hook logs the first ``import yaml`` with the stack
that caused it, so a failure names the importer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from kernel.testing import start_kernel

TRIMMED = "--plugins=api_core,storage_sqlite,authn_x509,api_rbac,authz_rbac"
MARK = "yaml-imported-here"
WRAPPER = f"""
import sys, traceback

def hook(event, args):
    if event == "import" and args[0] == "yaml":
        print({MARK!r}, "".join(traceback.format_stack(limit=12)), file=sys.stderr, flush=True)

sys.addaudithook(hook)
from kernel.cli import main
sys.exit(main())
"""


def test_idle_server_has_not_imported_yaml_and_yaml_still_works(tmp_path: Path) -> None:
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(WRAPPER)
    kernel = start_kernel(tmp_path / "k", TRIMMED, "--authorization-mode=RBAC",
                          command=(sys.executable, str(wrapper)))
    try:
        with kernel.client() as client:
            roles = client.get("/apis/rbac.authorization.k8s.io/v1/clusterroles").json()["items"]
            assert "system:node" in {role["metadata"]["name"] for role in roles}  # bootstrapped
            assert client.get("/api/v1/namespaces/default/configmaps").status_code == 200
            assert MARK not in kernel.log(), kernel.log()

            body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: '1'\n"
            created = client.post("/api/v1/namespaces/default/configmaps", content=body,
                                  headers={"Content-Type": "application/yaml",
                                           "Accept": "application/yaml"})
            assert created.status_code == 201, created.text
            assert created.headers["content-type"] == "application/yaml"
            assert yaml.safe_load(created.text)["data"] == {"a": "1"}
            assert MARK in kernel.log()  # the hook works: this request imported it

            listed = client.get("/api/v1/namespaces/default/configmaps/from-yaml",
                                headers={"Accept": "application/yaml"})
            assert yaml.safe_load(listed.text)["metadata"]["name"] == "from-yaml"
    finally:
        kernel.stop()
