"""rbac.authorization.k8s.io/v1 served by a real server: kube's validation, Table columns,
ClusterRole aggregation and the escalation checks, with token users as clients."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.testing import KernelProcess, start_kernel

G = "rbac.authorization.k8s.io"
API = f"/apis/{G}/v1"
TOKENS = {"mallory": "tok-mallory", "binder": "tok-binder", "aggregator": "tok-aggregator",
          "temp": "tok-temp"}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    workdir = tmp_path_factory.mktemp("rbac-api")
    (workdir / "tokens.csv").write_text("".join(f"{t},{u},{u}\n" for u, t in TOKENS.items()))
    server = start_kernel(workdir, "--plugins=api_core,storage_memory,authn_token,api_rbac,authz_rbac",
                          f"--token-auth-file={workdir / 'tokens.csv'}", "--authorization-mode=RBAC")
    try:
        yield server
    finally:
        server.stop()


def rule(verbs, groups=("",), resources=(), **extra) -> dict:
    return {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources), **extra}


def role(name: str, rules: list[dict], namespace: str = "", labels: dict | None = None, **extra) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {}),
            **({"labels": labels} if labels else {})}
    return {"apiVersion": f"{G}/v1", "kind": "ClusterRole" if not namespace else "Role",
            "metadata": meta, "rules": rules, **extra}


def binding(name: str, kind: str, role_name: str, subjects: list[dict], namespace: str = "") -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{G}/v1", "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
            "metadata": meta, "roleRef": {"apiGroup": G, "kind": kind, "name": role_name},
            "subjects": subjects}


def post(kernel: KernelProcess, path: str, body: dict, token: str | None = "") -> tuple[int, dict]:
    with kernel.client(token=token) as client:
        response = client.post(path, json=body)
    return response.status_code, response.json()


def test_validation_as_kube(kernel: KernelProcess) -> None:
    code, status = post(kernel, f"{API}/namespaces/default/roles", role("r", [
        {"verbs": [], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["get"], "nonResourceURLs": ["/metrics"]}], "default"))
    assert code == 422, status
    assert status["message"] == (
        'Role.rbac.authorization.k8s.io "r" is invalid: [rules[0].verbs: Required value: verbs must '
        'contain at least one value, rules[1].nonResourceURLs: Invalid value: []string{"/metrics"}: '
        'namespaced rules cannot apply to non-resource URLs]')
    code, status = post(kernel, f"{API}/clusterroles", role("c", [
        {"verbs": ["get"], "apiGroups": [""], "nonResourceURLs": ["/metrics"]},
        {"verbs": ["get"], "resources": ["pods"]}]))
    assert code == 422 and "rules cannot apply to both regular resources and non-resource URLs" in \
        status["message"] and "rules[1].apiGroups: Required value" in status["message"], status
    code, status = post(kernel, f"{API}/clusterrolebindings", binding(
        "b", "Role", "r", [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "Robot", "name": "x"}]))
    assert code == 422, status
    assert status["message"] == (
        'ClusterRoleBinding.rbac.authorization.k8s.io "b" is invalid: [roleRef.kind: Unsupported '
        'value: "Role": supported values: "ClusterRole", subjects[0].namespace: Required value, '
        'subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", '
        '"Group"]')


def test_role_ref_is_immutable_and_subjects_are_defaulted(kernel: KernelProcess) -> None:
    code, created = post(kernel, f"{API}/namespaces/default/rolebindings", binding(
        "immutable", "ClusterRole", "view", [{"kind": "User", "name": "u"}], "default"))
    assert code == 201, created
    assert created["subjects"][0]["apiGroup"] == G
    created["roleRef"]["name"] = "edit"
    with kernel.client() as client:
        response = client.put(f"{API}/namespaces/default/rolebindings/immutable", json=created)
    assert response.status_code == 422
    assert response.json()["message"] == (
        'RoleBinding.rbac.authorization.k8s.io "immutable" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: '
        'cannot change roleRef')


def test_table_columns_as_kubectl_shows_them(kernel: KernelProcess) -> None:
    post(kernel, f"{API}/namespaces/default/rolebindings", binding("wide", "ClusterRole", "view", [
        {"kind": "User", "name": "ann"}, {"kind": "Group", "name": "devs"},
        {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}], "default"))
    out = kernel.kubectl("get", "rolebinding", "wide", "-n", "default", "-o", "wide").stdout.split("\n")
    assert out[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert out[1].split()[:2] == ["wide", "ClusterRole/view"] and out[1].split()[3:] == ["ann", "devs", "ci/bot"]
    header = kernel.kubectl("get", "clusterroles", "view").stdout.split("\n")[0]
    assert header.split() == ["NAME", "CREATED", "AT"]
    resources = kernel.kubectl("api-resources", f"--api-group={G}", "--no-headers").stdout
    assert sorted(line.split()[0] for line in resources.splitlines()) == [
        "clusterrolebindings", "clusterroles", "rolebindings", "roles"]
    assert all(len(line.split()) == 4 for line in resources.splitlines())  # no short names


def wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.02)


def test_clusterrole_aggregation_follows_labelled_roles(kernel: KernelProcess) -> None:
    with kernel.client() as client:
        view = client.get(f"{API}/clusterroles/view").json()
        aggregate = client.get(f"{API}/clusterroles/system:aggregate-to-view").json()
        assert all(r in view["rules"] for r in aggregate["rules"])  # aggregated before /readyz
        selector = {"clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate": "true"}}]}
        assert client.post(f"{API}/clusterroles", json=role("union", [], aggregationRule=selector)).status_code == 201
        part = role("part", [rule(["get"], resources=["widgets"])], labels={"example.com/aggregate": "true"})
        assert client.post(f"{API}/clusterroles", json=part).status_code == 201

        def rules() -> list:
            return client.get(f"{API}/clusterroles/union").json().get("rules") or []

        assert wait_for(lambda: rules() == part["rules"]), rules()
        stored = client.get(f"{API}/clusterroles/part").json()
        stored["rules"].append(rule(["list"], resources=["gadgets"]))
        assert client.put(f"{API}/clusterroles/part", json=stored).status_code == 200
        assert wait_for(lambda: len(rules()) == 2), rules()
        assert client.delete(f"{API}/clusterroles/part").status_code == 200
        assert wait_for(lambda: rules() == []), rules()


def test_escalation_is_refused_with_kubes_message(kernel: KernelProcess) -> None:
    with kernel.client() as admin:
        admin.post("/api/v1/namespaces", json={"metadata": {"name": "esc"}})
        admin.post(f"{API}/namespaces/esc/roles", json=role("maker", [
            rule(["create", "update", "get"], [G], ["roles", "rolebindings"]),
            rule(["get", "list"], resources=["configmaps"])], "esc"))
        admin.post(f"{API}/namespaces/esc/rolebindings", json=binding(
            "maker", "Role", "maker", [{"kind": "User", "name": "mallory"}], "esc"))
    star = role("everything", [rule(["*"], ["*"], ["*"])], "esc")
    code, status = post(kernel, f"{API}/namespaces/esc/roles", star, TOKENS["mallory"])
    assert (code, status["reason"]) == (403, "Forbidden"), status
    assert status["message"] == (
        'roles.rbac.authorization.k8s.io "everything" is forbidden: user "mallory" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently '
        'held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}')
    subset = role("reader", [rule(["get"], resources=["configmaps"])], "esc")
    assert post(kernel, f"{API}/namespaces/esc/roles", subset, TOKENS["mallory"])[0] == 201
    to_admin = binding("grab", "ClusterRole", "admin", [{"kind": "User", "name": "mallory"}], "esc")
    code, status = post(kernel, f"{API}/namespaces/esc/rolebindings", to_admin, TOKENS["mallory"])
    assert code == 403 and status["message"].startswith(
        'rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "mallory" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'), status
    to_reader = binding("ok", "Role", "reader", [{"kind": "User", "name": "someone"}], "esc")
    assert post(kernel, f"{API}/namespaces/esc/rolebindings", to_reader, TOKENS["mallory"])[0] == 201


def test_bind_and_escalate_verbs_allow_what_the_user_does_not_hold(kernel: KernelProcess) -> None:
    with kernel.client() as admin:
        admin.post("/api/v1/namespaces", json={"metadata": {"name": "deleg"}})
        admin.post(f"{API}/namespaces/deleg/roles", json=role("delegate", [
            rule(["create"], [G], ["rolebindings", "roles"]),
            rule(["bind"], [G], ["clusterroles"], resourceNames=["edit"]),
            rule(["escalate"], [G], ["roles"])], "deleg"))
        admin.post(f"{API}/namespaces/deleg/rolebindings", json=binding(
            "delegate", "Role", "delegate", [{"kind": "User", "name": "binder"}], "deleg"))
    token = TOKENS["binder"]
    edit = binding("edit", "ClusterRole", "edit", [{"kind": "User", "name": "x"}], "deleg")
    assert post(kernel, f"{API}/namespaces/deleg/rolebindings", edit, token)[0] == 201
    admin_binding = binding("admin", "ClusterRole", "admin", [{"kind": "User", "name": "x"}], "deleg")
    assert post(kernel, f"{API}/namespaces/deleg/rolebindings", admin_binding, token)[0] == 403
    star = role("everything", [rule(["*"], ["*"], ["*"])], "deleg")
    assert post(kernel, f"{API}/namespaces/deleg/roles", star, token)[0] == 201
    missing = binding("dangling", "Role", "nope", [{"kind": "User", "name": "x"}], "deleg")
    code, status = post(kernel, f"{API}/namespaces/deleg/rolebindings", missing, token)
    assert (code, status["message"]) == (404, 'roles.rbac.authorization.k8s.io "nope" not found')


def test_an_aggregation_rule_needs_cluster_admin(kernel: KernelProcess) -> None:
    with kernel.client() as admin:
        admin.post(f"{API}/clusterroles", json=role("role-maker", [
            rule(["create"], [G], ["clusterroles"]), rule(["get"], resources=["pods"])]))
        admin.post(f"{API}/clusterrolebindings", json=binding(
            "role-maker", "ClusterRole", "role-maker", [{"kind": "User", "name": "aggregator"}]))
    selector = {"clusterRoleSelectors": [{"matchLabels": {"anything": "true"}}]}
    gathering = role("gathering", [rule(["get"], resources=["pods"])], aggregationRule=selector)
    code, status = post(kernel, f"{API}/clusterroles", gathering, TOKENS["aggregator"])
    assert (code, status["message"]) == (
        403, 'clusterroles.rbac.authorization.k8s.io "gathering" is forbidden: must have '
             'cluster-admin privileges to use the aggregationRule'), status
    plain = role("plain", [rule(["get"], resources=["pods"])])
    assert post(kernel, f"{API}/clusterroles", plain, TOKENS["aggregator"])[0] == 201


def test_decisions_follow_bindings_and_roles_as_they_change(kernel: KernelProcess) -> None:
    path = "/api/v1/namespaces/default/configmaps"

    def status() -> int:
        with kernel.client(token=TOKENS["temp"]) as client:
            return client.get(path).status_code

    assert status() == 403
    with kernel.client() as admin:
        admin.post(f"{API}/namespaces/default/roles", json=role("temp", [rule(["list"], resources=["configmaps"])],
                                                               "default"))
        admin.post(f"{API}/namespaces/default/rolebindings", json=binding(
            "temp", "Role", "temp", [{"kind": "User", "name": "temp"}], "default"))
        assert wait_for(lambda: status() == 200)
        assert admin.delete(f"{API}/namespaces/default/roles/temp").status_code == 200
        assert wait_for(lambda: status() == 403)
        with kernel.client(token=TOKENS["temp"]) as client:
            assert client.get(path).json()["message"].endswith(
                ': RBAC: role.rbac.authorization.k8s.io "temp" not found')
        admin.post(f"{API}/namespaces/default/roles", json=role("temp", [rule(["list"], resources=["configmaps"])],
                                                               "default"))
        assert wait_for(lambda: status() == 200)
        assert admin.delete(f"{API}/namespaces/default/rolebindings/temp").status_code == 200
        assert wait_for(lambda: status() == 403)


def test_bootstrap_aggregation_writes_each_role_only_from_its_latest_state(tmp_path: Path) -> None:
    # A fresh store: the bootstrap policy's 70 ClusterRoles arrive one by one and each queues
    # admin, edit, view... again. The controller writes an aggregating role only from a state at
    # least as new as its own last write of it, so none of its writes is refused (the informer
    # had not seen its previous write: 60-odd 409s at every first start before).
    kernel = start_kernel(tmp_path, "--plugins=api_core,storage_memory,api_rbac,authz_rbac", "-v=2")
    try:
        puts = [line for line in kernel.log().splitlines() if 'verb="PUT"' in line
                and 'userAgent="kernel/clusterrole-aggregation-controller"' in line]
        assert puts and all(line.endswith("resp=200") for line in puts), "\n".join(puts)
        with kernel.client() as client:  # and the aggregation is complete
            view = client.get(f"{API}/clusterroles/view").json()
            aggregate = client.get(f"{API}/clusterroles/system:aggregate-to-view").json()
            assert all(r in view["rules"] for r in aggregate["rules"])
    finally:
        kernel.stop()
