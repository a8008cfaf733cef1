"""Authorization end to end with the default chain of a full install (Node,RBAC): kubectl as
the admin and as restricted users (a token user and a client-certificate user), can-i,
impersonation, escalation, anonymous requests, and every kind of path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from authn_helpers import KUBECTL, kubectl, tls_client, write_kubeconfig

from kernel_authn_x509.testing import CertificateAuthority

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")

TOKENS = "vera-token,vera,uid-v\neve-token,eve,uid-e\nnobody-token,nobody,uid-n\n"


@pytest.fixture
def cluster(kernel_process, tmp_path: Path):
    """A full install on its defaults plus token and client-certificate users; the admin has
    made namespace ``dev`` with a configmap and a secret, bound ``vera`` to ``view`` there and
    the group ``devs`` (jane's certificate) to ``edit``."""
    ca = CertificateAuthority("team-ca")
    (tmp_path / "client-ca.crt").write_bytes(ca.cert_pem)
    (tmp_path / "tokens.csv").write_text(TOKENS)
    kernel = kernel_process(f"--token-auth-file={tmp_path / 'tokens.csv'}",
                            f"--client-ca-file={tmp_path / 'client-ca.crt'}")
    kernel.kubectl("create", "namespace", "dev")
    kernel.kubectl("create", "configmap", "settings", "-n", "dev", "--from-literal=a=1")
    kernel.kubectl("create", "secret", "generic", "password", "-n", "dev", "--from-literal=p=s3cret")
    kernel.kubectl("create", "rolebinding", "vera-view", "-n", "dev", "--clusterrole=view", "--user=vera")
    kernel.kubectl("create", "rolebinding", "devs-edit", "-n", "dev", "--clusterrole=edit", "--group=devs")
    users = {name: write_kubeconfig(tmp_path / f"{name}.kubeconfig", kernel.url, kernel.ca_file,
                                    token=f"{name}-token") for name in ("vera", "eve", "nobody")}
    jane = ca.issue("jane", ["devs"]).write(tmp_path, "jane")
    users["jane"] = write_kubeconfig(tmp_path / "jane.kubeconfig", kernel.url, kernel.ca_file, cert=jane)

    def as_user(name: str, *args: str):
        return kubectl(users[name], tmp_path / f"home-{name}", *args)

    return kernel, as_user


def forbidden(result, message: str) -> bool:
    return result.returncode != 0 and "forbidden" in result.stderr and message in result.stderr


def test_the_default_chain_is_node_then_rbac(cluster) -> None:
    kernel, _ = cluster
    assert "authorization chain: privileged group system:masters, Node, RBAC" in kernel.log()


def test_a_view_user_reads_but_neither_writes_nor_reads_secrets(cluster) -> None:
    kernel, as_user = cluster
    result = as_user("vera", "get", "configmap", "settings", "-n", "dev", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["data"] == {"a": "1"}
    assert as_user("vera", "get", "configmaps,pods", "-n", "dev").returncode == 0
    watch = as_user("vera", "get", "configmaps", "-n", "dev", "--watch", "--request-timeout=1s")
    assert "settings" in watch.stdout and "Forbidden" not in watch.stderr
    assert forbidden(as_user("vera", "create", "configmap", "x", "-n", "dev"),
                     'configmaps is forbidden: User "vera" cannot create resource "configmaps" '
                     'in API group "" in the namespace "dev"')
    assert forbidden(as_user("vera", "get", "secret", "password", "-n", "dev"),
                     'secrets "password" is forbidden: User "vera" cannot get resource "secrets" '
                     'in API group "" in the namespace "dev"')
    assert forbidden(as_user("vera", "get", "configmaps", "-n", "default"),
                     'cannot list resource "configmaps" in API group "" in the namespace "default"')
    # The client-certificate user gets edit through its group: it writes and reads secrets.
    assert as_user("jane", "create", "configmap", "from-jane", "-n", "dev").returncode == 0
    assert as_user("jane", "get", "secret", "password", "-n", "dev").returncode == 0
    assert forbidden(as_user("jane", "create", "rolebinding", "x", "-n", "dev", "--clusterrole=admin",
                             "--user=jane"), "rolebindings.rbac.authorization.k8s.io")


def test_can_i_and_can_i_list(cluster) -> None:
    _, as_user = cluster
    yes = as_user("vera", "auth", "can-i", "list", "configmaps", "-n", "dev")
    assert (yes.returncode, yes.stdout.strip()) == (0, "yes")
    no = as_user("vera", "auth", "can-i", "create", "configmaps", "-n", "dev")
    assert (no.returncode, no.stdout.strip()) == (1, "no")
    assert as_user("vera", "auth", "can-i", "get", "secrets", "-n", "dev").stdout.strip() == "no"
    assert as_user("jane", "auth", "can-i", "delete", "pods", "-n", "dev").stdout.strip() == "yes"
    listed = as_user("vera", "auth", "can-i", "--list", "-n", "dev")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert "[get list watch]" in rows["configmaps"]
    assert "secrets" not in rows
    assert "selfsubjectaccessreviews.authorization.k8s.io" in rows  # system:basic-user


def test_impersonation_needs_the_impersonate_verb(cluster) -> None:
    kernel, as_user = cluster
    denied = as_user("vera", "get", "secrets", "-n", "dev", "--as=jane")
    # kubectl's discovery fails first, and its aggregated-discovery client prints no message.
    assert denied.returncode != 0 and "Error from server (Forbidden)" in denied.stderr
    with tls_client(kernel.url, kernel.ca_file, token="vera-token") as client:
        response = client.get("/api/v1/namespaces/dev/configmaps", headers={"Impersonate-User": "jane"})
        assert response.status_code == 403
        assert response.json()["message"] == ('users "jane" is forbidden: User "vera" cannot '
                                              'impersonate resource "users" in API group "" at the cluster scope')
    kernel.kubectl("create", "clusterrole", "impersonate-jane", "--verb=impersonate",
                   "--resource=users", "--resource-name=jane")
    kernel.kubectl("create", "clusterrolebinding", "vera-impersonates", "--clusterrole=impersonate-jane",
                   "--user=vera")
    with_group = as_user("vera", "get", "configmaps", "-n", "dev", "--as=jane", "--as-group=devs")
    assert with_group.returncode != 0 and "Forbidden" in with_group.stderr  # the group needs its own right
    # Impersonating jane (without her group, so without edit) works, and the request is then
    # authorized as jane: vera may list configmaps in dev, jane alone may not.
    who = as_user("vera", "auth", "whoami", "--as=jane", "-o", "json")
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == "jane"
    assert forbidden(as_user("vera", "get", "configmaps", "-n", "dev", "--as=jane"),
                     'User "jane" cannot list resource "configmaps"')
    assert as_user("vera", "get", "pods", "-n", "dev", "--as=bob").returncode != 0


def test_escalation_is_refused_with_kubes_message(cluster) -> None:
    kernel, as_user = cluster
    kernel.kubectl("create", "role", "role-maker", "-n", "dev", "--verb=create,get,list",
                   "--resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io")
    kernel.kubectl("create", "rolebinding", "eve-role-maker", "-n", "dev", "--role=role-maker", "--user=eve")
    result = as_user("eve", "create", "role", "everything", "-n", "dev", "--verb=*", "--resource=*")
    assert forbidden(result, 'roles.rbac.authorization.k8s.io "everything" is forbidden: user "eve"')
    assert "is attempting to grant RBAC permissions not currently held" in result.stderr
    # Binding herself to admin is refused too (no bind verb, no admin permissions) ...
    result = as_user("eve", "create", "rolebinding", "eve-admin", "-n", "dev", "--clusterrole=admin",
                     "--user=eve")
    assert forbidden(result, "is attempting to grant RBAC permissions not currently held")
    # ... while a role within her own permissions is fine.
    assert as_user("eve", "create", "role", "reader", "-n", "dev", "--verb=get",
                   "--resource=roles.rbac.authorization.k8s.io").returncode == 0


def test_anonymous_reaches_only_health_and_version(cluster) -> None:
    kernel, _ = cluster
    with tls_client(kernel.url, kernel.ca_file) as client:
        for path in ("/healthz", "/livez", "/readyz", "/version"):
            assert client.get(path).status_code == 200, path
        created = client.post("/api/v1/namespaces/dev/secrets",
                              json={"metadata": {"name": "planted"}, "stringData": {"x": "y"}})
        assert created.status_code == 403, created.text
        assert created.json()["message"].startswith(
            'secrets is forbidden: User "system:anonymous" cannot create resource "secrets"')
        for path in ("/api", "/apis", "/api/v1/namespaces", "/openapi/v3", "/metrics",
                     "/api/v1/namespaces/dev/configmaps?watch=1"):
            assert client.get(path).status_code == 403, path
    assert kernel.kubectl("get", "secret", "planted", "-n", "dev", check=False).returncode != 0


def test_authorization_applies_on_every_path(cluster) -> None:
    kernel, _ = cluster
    with tls_client(kernel.url, kernel.ca_file, token="nobody-token") as client:
        # An authenticated user with no binding: discovery and OpenAPI (system:discovery) only.
        assert client.get("/apis").status_code == 200
        assert client.get("/openapi/v3").status_code == 200
        denied = {
            "watch": client.get("/api/v1/namespaces/dev/configmaps", params={"watch": "1"}),
            "status": client.get("/api/v1/namespaces/default/services/kubernetes/status"),
            "scale": client.get("/apis/apps/v1/namespaces/dev/deployments/x/scale"),
            "deletecollection": client.delete("/api/v1/namespaces/dev/configmaps"),
            "metrics": client.get("/metrics"),
            "cluster list": client.get("/api/v1/configmaps"),
        }
        for what, response in denied.items():
            assert response.status_code == 403, (what, response.text)
    assert kernel.kubectl("get", "configmap", "settings", "-n", "dev").returncode == 0
