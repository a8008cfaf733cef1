"""Auditing on a real server (RBAC on, a token user, kubectl and httpx): which events a policy
with one rule per level gives for creates, gets, watches, denied, impersonated, unauthenticated
and panicking requests, each event checked field by field against audit.k8s.io/v1."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel.testing import KernelProcess, install_into, start_kernel

from schema import check_event

HERE = Path(__file__).resolve().parent
POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  resources: [{group: "", resources: ["resourcequotas"]}]
- level: Metadata
  resources: [{group: "", resources: ["secrets"]}]
- level: Request
  resources: [{group: "", resources: ["configmaps"]}]
- level: RequestResponse
  resources: [{group: "", resources: ["serviceaccounts"]}]
  omitManagedFields: true
- level: RequestResponse
  resources: [{group: "", resources: ["podtemplates"]}]
- level: Metadata
  resources: [{group: "", resources: ["limitranges"]}]
  omitStages: ["RequestReceived"]
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: Metadata
"""
SECRET_VALUE = "s3cr3t-audit-value"
ALICE = "alice-token"


@pytest.fixture(scope="module")
def panic_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test route that raises, pip-installed into a directory of its own (real entry point)."""
    target = tmp_path_factory.mktemp("audit-panic-plugin")
    install_into(HERE / "fixtures" / "kernel-audit-panic", target)
    return str(target)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, panic_plugin_path: str) -> Iterator[KernelProcess]:
    work = tmp_path_factory.mktemp("audit")
    (work / "policy.yaml").write_text(POLICY)
    (work / "tokens.csv").write_text(f'{ALICE},alice,alice-uid,"devs"\n')
    import os
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        panic_plugin_path, os.environ.get("PYTHONPATH")]))}
    kernel = start_kernel(
        work, "--plugins=api_core,api_rbac,authz_rbac,storage_memory,authn_token,audit,"
              "api_admissionregistration,admission_policy,test_audit_panic",
        "--authorization-mode=RBAC", f"--token-auth-file={work / 'tokens.csv'}",
        f"--audit-policy-file={work / 'policy.yaml'}", f"--audit-log-path={work / 'audit.log'}",
        "-v=2", env=env)
    kernel.audit_log = work / "audit.log"  # type: ignore[attr-defined]
    yield kernel
    kernel.stop()


def events(server: KernelProcess, wait_for: int = 0, **match: Any) -> list[dict[str, Any]]:
    """The audit log's events whose fields equal ``match``, waiting (briefly) for ``wait_for``."""
    deadline = time.monotonic() + 5
    while True:
        lines = server.audit_log.read_text().splitlines()  # type: ignore[attr-defined]
        found = [e for e in map(json.loads, lines) if all(e.get(k) == v for k, v in match.items())]
        if len(found) >= wait_for or time.monotonic() > deadline:
            for event in found:
                check_event(event)
            return found
        time.sleep(0.05)


def stages(found: list[dict[str, Any]]) -> list[str]:
    return [e["stage"] for e in found]


def test_create_and_get_at_request_level(server: KernelProcess) -> None:
    server.kubectl("create", "configmap", "cm1", "--from-literal=key=value")
    created = events(server, 2, verb="create", requestURI=
                     "/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create&fieldValidation=Strict")
    assert stages(created) == ["RequestReceived", "ResponseComplete"]
    received, complete = created
    assert received["auditID"] == complete["auditID"]
    assert received["level"] == "Request"
    assert received["stageTimestamp"] == received["requestReceivedTimestamp"]
    assert "requestObject" not in received and "responseStatus" not in received
    assert "annotations" not in received  # authorization runs after RequestReceived
    assert complete["requestObject"]["data"] == {"key": "value"}
    assert complete["requestObject"]["metadata"]["name"] == "cm1"
    assert "responseObject" not in complete  # Request, not RequestResponse
    assert complete["objectRef"] == {"resource": "configmaps", "namespace": "default",
                                     "name": "cm1", "apiVersion": "v1"}
    assert complete["responseStatus"] == {"metadata": {}, "code": 201}
    assert complete["user"]["username"] == "system:apiserver"
    assert "system:masters" in complete["user"]["groups"]
    assert complete["userAgent"].startswith("kubectl/")
    assert complete["sourceIPs"] == ["127.0.0.1"]
    assert complete["annotations"]["authorization.k8s.io/decision"] == "allow"

    with server.client() as client:
        response = client.get("/api/v1/namespaces/default/configmaps/cm1")
    audit_id = response.headers["audit-id"]
    got = events(server, 2, auditID=audit_id)
    assert stages(got) == ["RequestReceived", "ResponseComplete"]
    assert all(e["verb"] == "get" and e["level"] == "Request" for e in got)
    assert "requestObject" not in got[1] and "responseObject" not in got[1]
    assert got[1]["responseStatus"]["code"] == 200
    assert got[1]["userAgent"].startswith("python-httpx/")


def test_request_response_level_logs_the_response_object(server: KernelProcess) -> None:
    server.kubectl("create", "serviceaccount", "robot")
    complete = events(server, 1, verb="create", stage="ResponseComplete",
                      objectRef={"resource": "serviceaccounts", "namespace": "default",
                                 "name": "robot", "apiVersion": "v1"})
    assert len(complete) == 1 and complete[0]["level"] == "RequestResponse"
    assert complete[0]["requestObject"]["metadata"]["name"] == "robot"
    response = complete[0]["responseObject"]
    assert response["kind"] == "ServiceAccount" and response["metadata"]["uid"]
    assert "managedFields" not in response["metadata"]  # the rule's omitManagedFields
    # Without omitManagedFields they are logged as returned.
    with server.client() as client:
        created = client.post("/api/v1/namespaces/default/podtemplates",
                              params={"fieldManager": "audit-test"}, json={
                                  "metadata": {"name": "pt"}, "template": {"spec": {
                                      "containers": [{"name": "c", "image": "busybox"}]}}})
    assert created.status_code == 201 and created.json()["metadata"]["managedFields"]
    [template] = events(server, 1, auditID=created.headers["audit-id"], stage="ResponseComplete")
    assert template["responseObject"] == created.json()


def test_none_level_and_omitted_stages(server: KernelProcess) -> None:
    server.kubectl("create", "quota", "q1", "--hard=pods=1")
    server.kubectl("get", "resourcequotas")
    with server.client() as client:
        limits = client.post("/api/v1/namespaces/default/limitranges", json={
            "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
            "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}})
        assert limits.status_code == 201
    assert [e for e in events(server) if (e.get("objectRef") or {}).get("resource")
            == "resourcequotas"] == []
    found = events(server, 1, auditID=limits.headers["audit-id"])
    assert stages(found) == ["ResponseComplete"]  # RequestReceived omitted by the rule
    assert found[0]["level"] == "Metadata" and "requestObject" not in found[0]


def test_secrets_at_metadata_never_carry_their_data(server: KernelProcess) -> None:
    server.kubectl("create", "secret", "generic", "creds", f"--from-literal=password={SECRET_VALUE}")
    server.kubectl("get", "secret", "creds", "-o", "yaml")
    found = events(server, 4, objectRef={"resource": "secrets", "namespace": "default",
                                         "name": "creds", "apiVersion": "v1"})
    assert {e["verb"] for e in found} == {"create", "get"}
    assert all(e["level"] == "Metadata" and "requestObject" not in e and "responseObject" not in e
               for e in found)
    text = server.audit_log.read_text()  # type: ignore[attr-defined]
    assert SECRET_VALUE not in text
    assert base64.b64encode(SECRET_VALUE.encode()).decode() not in text


def test_watch_has_response_started_and_complete(server: KernelProcess) -> None:
    with server.client() as client:
        response = client.get("/api/v1/namespaces/default/configmaps",
                              params={"watch": "1", "timeoutSeconds": "1"})
    assert response.status_code == 200
    found = events(server, 3, auditID=response.headers["audit-id"])
    assert stages(found) == ["RequestReceived", "ResponseStarted", "ResponseComplete"]
    assert all(e["verb"] == "watch" for e in found)
    started, complete = found[1], found[2]
    assert started["responseStatus"] == {"metadata": {}, "code": 200}
    assert complete["stageTimestamp"] > started["stageTimestamp"]


def test_denied_request_is_a_403_event_with_the_decision(server: KernelProcess) -> None:
    with server.client(token=ALICE) as client:
        response = client.get("/api/v1/namespaces/default/secrets")
    assert response.status_code == 403
    found = events(server, 2, auditID=response.headers["audit-id"])
    assert stages(found) == ["RequestReceived", "ResponseComplete"]
    complete = found[1]
    assert complete["user"] == {"username": "alice", "uid": "alice-uid",
                                "groups": ["devs", "system:authenticated"]}
    assert complete["verb"] == "list"
    status = complete["responseStatus"]
    assert status["code"] == 403 and status["status"] == "Failure"
    assert status["reason"] == "Forbidden"
    assert status["message"] == response.json()["message"]
    assert complete["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert "authorization.k8s.io/reason" in complete["annotations"]


def test_impersonated_request_records_both_users(server: KernelProcess) -> None:
    result = server.kubectl("get", "configmaps", "--as=alice", "--as-group=devs", check=False)
    assert result.returncode != 0 and "forbidden" in result.stderr
    found = events(server, 1, verb="list", impersonatedUser={
        "username": "alice", "groups": ["devs", "system:authenticated"]})
    assert stages(found) == ["ResponseComplete"]
    complete = found[0]
    assert complete["user"]["username"] == "system:apiserver"  # the authenticated one
    assert complete["responseStatus"]["code"] == 403
    assert complete["annotations"]["authorization.k8s.io/decision"] == "forbid"
    # At RequestReceived impersonation has not happened yet, as in kube.
    received = events(server, auditID=complete["auditID"], stage="RequestReceived")
    assert len(received) == 1 and "impersonatedUser" not in received[0]


def test_failed_authentication_is_one_response_started_event(server: KernelProcess) -> None:
    with server.client(token="not-a-token") as client:
        response = client.get("/api/v1/namespaces/default/pods")
    assert response.status_code == 401
    found = events(server, 1, auditID=response.headers["audit-id"])
    assert stages(found) == ["ResponseStarted"]
    event = found[0]
    assert event["user"] == {} and event["verb"] == "list"
    assert event["responseStatus"]["code"] == 401
    assert event["responseStatus"]["reason"] == "Unauthorized"


def test_panic_is_a_500_and_a_panic_event(server: KernelProcess) -> None:
    with server.client() as client:
        response = client.get("/audit-panic/x")
    assert response.status_code == 500
    found = events(server, 2, auditID=response.headers["audit-id"])
    assert stages(found) == ["RequestReceived", "Panic"]
    status = found[1]["responseStatus"]
    assert status["code"] == 500 and status["reason"] == "InternalError"
    assert "boom from the audit test route" in status["message"]
    assert "objectRef" not in found[1] and found[1]["verb"] == "get"


def test_audit_id_header_and_request_log_agree(server: KernelProcess) -> None:
    with server.client() as client:
        response = client.get("/api/v1/namespaces", headers={
            "Audit-ID": "my-own-audit-id", "X-Forwarded-For": "10.1.2.3, bogus, 10.0.0.9"})
    assert response.headers["audit-id"] == "my-own-audit-id"
    found = events(server, 2, auditID="my-own-audit-id")
    assert stages(found) == ["RequestReceived", "ResponseComplete"]
    assert found[0]["sourceIPs"] == ["10.1.2.3", "10.0.0.9", "127.0.0.1"]  # proxies, then the peer
    deadline = time.monotonic() + 5
    while 'audit-ID="my-own-audit-id"' not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(l for l in server.log().splitlines() if 'audit-ID="my-own-audit-id"' in l)
    assert '"HTTP"' in line or " HTTP " in line
    assert 'URI="/api/v1/namespaces"' in line


def test_health_checks_are_not_audited_by_the_none_rule(server: KernelProcess) -> None:
    with server.client() as client:
        response = client.get("/readyz")
    assert events(server, auditID=response.headers["audit-id"]) == []


def test_admission_annotations_reach_the_event(server: KernelProcess) -> None:
    group = "/apis/admissionregistration.k8s.io/v1"
    with server.client() as client:
        assert client.post(f"{group}/validatingadmissionpolicies", json={
            "metadata": {"name": "annotate"},
            "spec": {"matchConstraints": {"resourceRules": [{
                "operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                "resources": ["configmaps"]}]},
                "auditAnnotations": [{"key": "name", "valueExpression": "object.metadata.name"}]},
        }).status_code == 201
        assert client.post(f"{group}/validatingadmissionpolicybindings", json={
            "metadata": {"name": "annotate"},
            "spec": {"policyName": "annotate", "validationActions": ["Audit"]}}).status_code == 201
        deadline = time.monotonic() + 10
        for n in range(1000):  # until the policy is in force
            response = client.post("/api/v1/namespaces/default/configmaps",
                                   json={"metadata": {"name": f"annotated-{n}"}})
            [complete] = events(server, 1, auditID=response.headers["audit-id"],
                                stage="ResponseComplete")
            if "annotate/name" in complete.get("annotations", {}) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert complete["annotations"]["annotate/name"] == f"annotated-{n}"
    assert complete["annotations"]["authorization.k8s.io/decision"] == "allow"


def test_audit_metrics(server: KernelProcess) -> None:
    def sample(text: str, name: str) -> float:
        line = next(l for l in text.splitlines() if l.startswith(name + " "))
        return float(line.split()[-1])

    with server.client() as client:
        before = client.get("/metrics").text
        client.get("/api/v1/namespaces/default/secrets")  # Metadata: two events
        client.get("/readyz")  # None
        after = client.get("/metrics").text
    assert sample(after, "apiserver_audit_event_total") >= sample(before, "apiserver_audit_event_total") + 2
    for level in ("Metadata", "None"):
        name = f'apiserver_audit_level_total{{level="{level}"}}'
        assert sample(after, name) >= sample(before, name) + 1
    assert "apiserver_audit_requests_rejected_total 0.0" in after
