"""The ``rbac/bootstrap-roles`` hook across a restart on real etcd: created once, reconciled (not
duplicated) on the next start, as kube's reconciliation does."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.testing import KernelProcess, start_kernel
from kernel_api_rbac.escalation import covers

etcd_testing = pytest.importorskip("kernel_storage_etcd3.testing")
pytestmark = pytest.mark.skipif(not etcd_testing.INSTALLED, reason=etcd_testing.MISSING)

G = "rbac.authorization.k8s.io"
API = f"/apis/{G}/v1"
PLUGINS = "--plugins=api_core,storage_etcd3,api_rbac,authz_rbac"
EXTRA = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}


def serve(workdir: Path, etcd_url: str) -> KernelProcess:
    return start_kernel(workdir, PLUGINS, "--storage-backend=etcd3", f"--etcd-servers={etcd_url}",
                        "--authorization-mode=RBAC", append_log=True)


def counts(kernel: KernelProcess) -> dict[str, int]:
    with kernel.client() as client:
        return {plural: len(client.get(f"{API}/{plural}").json()["items"])
                for plural in ("clusterroles", "clusterrolebindings", "roles", "rolebindings")}


def tamper(kernel: KernelProcess) -> dict:
    """Change the policy as a user could: every change reconciliation must undo or keep."""
    with kernel.client() as client:
        basic = client.get(f"{API}/clusterroles/system:basic-user").json()
        original = basic["rules"]
        basic["rules"] = [EXTRA]
        assert client.put(f"{API}/clusterroles/system:basic-user", json=basic).status_code == 200
        discovery = client.get(f"{API}/clusterrolebindings/system:discovery").json()
        discovery["subjects"] = [{"kind": "User", "apiGroup": G, "name": "someone"}]
        assert client.put(f"{API}/clusterrolebindings/system:discovery", json=discovery).status_code == 200
        assert client.delete(f"{API}/clusterrolebindings/system:public-info-viewer").status_code == 200
        moved = {"metadata": {"name": "system:public-info-viewer"},
                 "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "system:discovery"},
                 "subjects": [{"kind": "Group", "apiGroup": G, "name": "system:unauthenticated"}]}
        assert client.post(f"{API}/clusterrolebindings", json=moved).status_code == 201
        monitoring = client.get(f"{API}/clusterroles/system:monitoring").json()
        monitoring["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = "false"
        monitoring["rules"] = [EXTRA]
        assert client.put(f"{API}/clusterroles/system:monitoring", json=monitoring).status_code == 200
        assert client.delete(f"{API}/clusterroles/system:auth-delegator").status_code == 200
        admin_uid = client.get(f"{API}/clusterroles/cluster-admin").json()["metadata"]["uid"]
    return {"basic-user": original, "cluster-admin": admin_uid}


def test_restart_reconciles_and_never_duplicates(tmp_path: Path) -> None:
    with etcd_testing.etcd_server() as etcd:
        first = serve(tmp_path / "kernel", etcd.url)
        try:
            created = counts(first)
            assert created == {"clusterroles": 70, "clusterrolebindings": 51, "roles": 7, "rolebindings": 7}
            before = tamper(first)
        finally:
            first.stop()
        second = serve(tmp_path / "kernel", etcd.url)
        try:
            assert counts(second) == created
            with second.client() as client:
                def get(path: str) -> dict:
                    return client.get(f"{API}/{path}").json()
                basic = get("clusterroles/system:basic-user")
                # the extra rule kept; the missing ones added back (broken down, as kube adds them)
                assert basic["rules"][0] == EXTRA and covers(basic["rules"], before["basic-user"])[0]
                subjects = get("clusterrolebindings/system:discovery")["subjects"]
                assert {"kind": "Group", "apiGroup": G, "name": "system:authenticated"} in subjects
                assert {"kind": "User", "apiGroup": G, "name": "someone"} in subjects
                assert get("clusterrolebindings/system:public-info-viewer")["roleRef"]["name"] == \
                    "system:public-info-viewer"
                assert get("clusterroles/system:monitoring")["rules"] == [EXTRA]  # autoupdate "false"
                assert get("clusterroles/system:auth-delegator")["rules"]
                assert get("clusterroles/cluster-admin")["metadata"]["uid"] == before["cluster-admin"]
                assert client.get("/readyz?verbose").text.count("poststarthook/rbac/bootstrap-roles ok") == 1
        finally:
            second.stop()
