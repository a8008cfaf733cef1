"""The real kubectl against ``kernel serve``.

/usr/bin/kubectl is a dispatcher: it asks /version which bundled kubectl to run, and caches that
and discovery on disk, so every test gets its own HOME and KUBECACHEDIR.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

KUBECTL = "/usr/bin/kubectl"

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason=f"{KUBECTL} is not installed")

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kubectl(tmp_path: Path) -> Kubectl:
    home = tmp_path / "home"
    home.mkdir()
    env = {name: value for name, value in os.environ.items() if name != "KUBECONFIG"}
    env.update(HOME=str(home), KUBECACHEDIR=str(home / "cache"))

    def run(kubeconfig: str, *args: str) -> subprocess.CompletedProcess[str]:
        # stdin closed: kubectl must never wait for an answer to a prompt.
        return subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, *args], env=env, text=True,
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=60)

    return run


def test_get_raw_readyz_verbose(kernel_process, kubectl: Kubectl) -> None:
    kernel = kernel_process()  # every installed plugin: their post-start hooks are checks too
    result = kubectl(kernel.kubeconfig, "get", "--raw", "/readyz?verbose")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[+]ping ok", "[+]log ok",
        "[+]sqlite ok",  # storage_sqlite
        "[+]poststarthook/start-validating-admission-policy-status-controller ok",  # admission_policy
        "[+]poststarthook/start-apiextensions-controllers ok",  # api_apiextensions
        "[+]poststarthook/kube-apiserver-autoregistration ok",  # api_apiregistration
        "[+]poststarthook/apiservice-status-available-controller ok",
        "[+]poststarthook/bootstrap-namespaces ok",
        "[+]poststarthook/start-namespace-controller ok",
        "[+]poststarthook/start-serviceaccount-controller ok",
        "[+]poststarthook/start-root-ca-cert-publisher ok",
        "[+]poststarthook/start-kubernetes-service-controller ok",  # api_core with services, endpoints, endpointslices
        "[+]poststarthook/rbac/bootstrap-roles ok",  # api_rbac
        "[+]poststarthook/rbac/start-clusterrole-aggregation-controller ok",
        "[+]poststarthook/scheduling/bootstrap-system-priority-classes ok",  # api_scheduling
        "[+]poststarthook/start-tokens-controller ok",  # authn_serviceaccount
        "[+]poststarthook/node-authorizer-graph ok",  # authz_node
        "[+]poststarthook/storage-sqlite-expiry ok",  # storage_sqlite (--event-ttl)
        "[+]poststarthook/storage-sqlite-compactor ok",
        "[+]shutdown ok", "readyz check passed"]


def test_version_picks_kubectl_1_32(kernel_process, kubectl: Kubectl) -> None:
    kernel = kernel_process()
    result = kubectl(kernel.kubeconfig, "version", "-o", "json")
    assert result.returncode == 0, result.stderr
    versions = json.loads(result.stdout)
    assert versions["serverVersion"]["gitVersion"].startswith("v1.32.")
    # The dispatcher chose the bundled kubectl from the server's minor version.
    assert versions["clientVersion"]["gitVersion"].startswith("v1.32.")


def test_without_a_token_kubectl_reports_unauthorized(kernel_process, kubectl: Kubectl,
                                                      tmp_path: Path) -> None:
    kernel = kernel_process("--anonymous-auth=false")
    config = json.loads(Path(kernel.kubeconfig).read_text())
    # No token; basic-auth credentials instead, which kube does not accept. (With no credentials
    # at all kubectl would prompt for a username before sending any request.)
    config["users"][0]["user"] = {"username": "jane", "password": "secret"}
    no_token = tmp_path / "no-token.kubeconfig"
    no_token.write_text(json.dumps(config))

    result = kubectl(str(no_token), "get", "--raw", "/readyz")
    assert result.returncode == 1
    assert result.stdout == ""
    # "(Unauthorized)" is the message of the server's Status: kubectl decoded the 401 body.
    assert result.stderr.strip() == "error: You must be logged in to the server (Unauthorized)"

    # The same server still answers the admin kubeconfig (the token it wrote).
    assert kubectl(kernel.kubeconfig, "get", "--raw", "/readyz").stdout == "ok"
