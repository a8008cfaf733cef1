"""RBAC end to end with kubectl: `kernel serve --authorization-mode=RBAC`, the bootstrap policy,
token users (authn_token) and a client-certificate user (authn_x509) as clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from authn_helpers import KUBECTL, kubectl, tls_client, write_kubeconfig

from kernel.testing import KernelProcess, start_kernel
from kernel_authn_x509.testing import CertificateAuthority

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")

PLUGINS = ("--plugins=api_core,storage_memory,api_authentication,authn_token,authn_x509,"
           "api_rbac,authz_rbac")
TOKENS = {"viewer": "tok-viewer", "mallory": "tok-mallory", "nobody": "tok-nobody"}
ESCALATION = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: everything, namespace: team}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rbac-e2e")


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority("rbac-e2e-ca")


@pytest.fixture(scope="module")
def kernel(workdir: Path, ca: CertificateAuthority) -> Iterator[KernelProcess]:
    (workdir / "tokens.csv").write_text("".join(f"{t},{u},{u}\n" for u, t in TOKENS.items()))
    (workdir / "client-ca.crt").write_bytes(ca.cert_pem)
    server = start_kernel(workdir / "kernel", PLUGINS, "--authorization-mode=RBAC",
                          f"--token-auth-file={workdir / 'tokens.csv'}",
                          f"--client-ca-file={workdir / 'client-ca.crt'}")
    try:
        server.kubectl("create", "namespace", "team")
        server.kubectl("create", "rolebinding", "viewers", "--clusterrole=view", "--user=viewer",
                       "--group=cert-viewers", "-n", "team")
        server.kubectl("create", "configmap", "settings", "--from-literal=a=1", "-n", "team")
        server.kubectl("create", "secret", "generic", "hidden", "--from-literal=k=v", "-n", "team")
        yield server
    finally:
        server.stop()


def as_token(kernel: KernelProcess, user: str, *args: str):
    return kernel.kubectl(*args, f"--token={TOKENS[user]}", check=False)


def test_view_user_reads_but_cannot_write_or_read_secrets(kernel: KernelProcess) -> None:
    got = as_token(kernel, "viewer", "get", "configmap", "settings", "-n", "team", "-o", "jsonpath={.data.a}")
    assert (got.returncode, got.stdout) == (0, "1"), got.stderr
    assert as_token(kernel, "viewer", "get", "pods", "-n", "team").returncode == 0
    watched = as_token(kernel, "viewer", "get", "configmaps", "-n", "team", "--watch",
                       "--request-timeout=1s")
    assert "settings" in watched.stdout and "Forbidden" not in watched.stderr, watched.stderr
    created = as_token(kernel, "viewer", "create", "configmap", "new", "-n", "team")
    assert created.returncode != 0
    assert ('configmaps is forbidden: User "viewer" cannot create '
            'resource "configmaps" in API group "" in the namespace "team"') in created.stderr
    secret = as_token(kernel, "viewer", "get", "secret", "hidden", "-n", "team")
    assert ('Error from server (Forbidden): secrets "hidden" is forbidden: User "viewer" cannot get '
            'resource "secrets" in API group "" in the namespace "team"') in secret.stderr
    elsewhere = as_token(kernel, "viewer", "get", "configmaps", "-n", "default")
    assert 'cannot list resource "configmaps" in API group "" in the namespace "default"' in elsewhere.stderr


def test_client_certificate_user_bound_through_its_group(kernel: KernelProcess, ca, workdir: Path) -> None:
    cert = ca.issue("carl", ["cert-viewers"]).write(workdir, "carl")
    config = write_kubeconfig(workdir / "carl.kubeconfig", kernel.url, kernel.ca_file, cert=cert)
    got = kubectl(config, workdir / "home-carl", "get", "configmaps", "-n", "team", "-o", "name")
    assert got.returncode == 0 and "configmap/settings" in got.stdout.split(), got.stderr
    denied = kubectl(config, workdir / "home-carl", "delete", "configmap", "settings", "-n", "team")
    assert 'User "carl" cannot delete resource "configmaps"' in denied.stderr


def test_kubectl_creates_rbac_objects(kernel: KernelProcess) -> None:
    kernel.kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", "team")
    kernel.kubectl("create", "rolebinding", "read-pods", "--role=pod-reader", "--user=ann", "-n", "team")
    kernel.kubectl("create", "clusterrole", "node-reader", "--verb=get", "--resource=nodes")
    kernel.kubectl("create", "clusterrolebinding", "read-nodes", "--clusterrole=node-reader",
                   "--serviceaccount=team:bot")
    role = kernel.kubectl_json("get", "role", "pod-reader", "-n", "team")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    crb = kernel.kubectl_json("get", "clusterrolebinding", "read-nodes")
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "bot", "namespace": "team"}]
    listed = kernel.kubectl("get", "rolebindings", "-n", "team").stdout
    assert "read-pods" in listed and "Role/pod-reader" in listed


def test_escalation_attempt_is_refused_with_kubes_message(kernel: KernelProcess) -> None:
    kernel.kubectl("create", "role", "role-maker", "--verb=create", "--resource=roles.rbac.authorization.k8s.io",
                   "-n", "team")
    kernel.kubectl("create", "rolebinding", "role-maker", "--role=role-maker", "--user=mallory", "-n", "team")
    refused = kernel.kubectl("create", "-f", "-", f"--token={TOKENS['mallory']}", input=ESCALATION,
                             check=False)
    assert refused.returncode != 0
    assert ('roles.rbac.authorization.k8s.io "everything" is forbidden: user "mallory" '
            '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently '
            'held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}') in refused.stderr
    assert kernel.kubectl("get", "role", "everything", "-n", "team", check=False).returncode != 0


def test_anonymous_reaches_only_health_and_version(kernel: KernelProcess) -> None:
    with tls_client(kernel.url, kernel.ca_file) as anonymous:
        for path in ("/healthz", "/livez", "/readyz", "/version"):
            assert anonymous.get(path).status_code == 200, path
        for path in ("/api", "/apis", "/api/v1/namespaces/team/configmaps", "/metrics", "/openapi/v2"):
            response = anonymous.get(path)
            assert response.status_code == 403, (path, response.text)
            assert 'User "system:anonymous" cannot' in response.json()["message"]
        posted = anonymous.post("/api/v1/namespaces/team/secrets", json={"metadata": {"name": "x"}})
        assert posted.status_code == 403


def test_authenticated_users_get_discovery_and_whoami(kernel: KernelProcess) -> None:
    resources = as_token(kernel, "nobody", "api-resources", "--api-group=rbac.authorization.k8s.io")
    assert resources.returncode == 0 and "clusterroles" in resources.stdout, resources.stderr
    whoami = as_token(kernel, "nobody", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert (whoami.returncode, whoami.stdout) == (0, "nobody"), whoami.stderr  # system:basic-user
    denied = as_token(kernel, "nobody", "get", "pods", "-n", "team")
    assert 'User "nobody" cannot list resource "pods"' in denied.stderr
