"""admissionregistration.k8s.io/v1 served on its own: kube's defaults, validation messages,
generation, the policy's status subresource and kubectl's columns. Expected texts are kube's
(pkg/apis/admissionregistration/validation, k8s.io/apiserver/pkg/util/webhook)."""

from __future__ import annotations

import pytest

from kernel.testing import KernelProcess, start_kernel

BASE = "/apis/admissionregistration.k8s.io/v1"
RULE = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("admreg"),
                          "--plugins=api_core,api_admissionregistration,storage_memory")
    yield kernel
    kernel.stop()


def _webhook(name: str = "deny.example.com", **fields) -> dict:
    return {"name": name, "clientConfig": {"url": "https://127.0.0.1:1/validate"}, "rules": [RULE],
            "sideEffects": "None", "admissionReviewVersions": ["v1"], **fields}


def _config(kind: str, name: str, *webhooks: dict) -> dict:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name},
            "webhooks": list(webhooks)}


def _policy(name: str, **spec) -> dict:
    body = {"matchConstraints": {"resourceRules": [RULE]},
            "validations": [{"expression": "object.data.size() < 3"}], **spec}
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name}, "spec": body}


def test_webhook_defaults(kernel: KernelProcess) -> None:
    service = {"service": {"namespace": "default", "name": "hook"}}
    with kernel.client() as http:
        made = http.post(f"{BASE}/mutatingwebhookconfigurations", json=_config(
            "MutatingWebhookConfiguration", "defaults", _webhook(clientConfig=service)))
        assert made.status_code == 201, made.text
        hook = made.json()["webhooks"][0]
    assert hook["failurePolicy"] == "Fail" and hook["matchPolicy"] == "Equivalent"
    assert hook["namespaceSelector"] == {} and hook["objectSelector"] == {}
    assert hook["timeoutSeconds"] == 10 and hook["reinvocationPolicy"] == "Never"
    assert hook["rules"][0]["scope"] == "*"
    assert hook["clientConfig"]["service"]["port"] == 443
    assert made.json()["metadata"]["generation"] == 1


def test_webhook_validation_messages(kernel: KernelProcess) -> None:
    bad = _webhook("short.name", sideEffects="Some", timeoutSeconds=31,
                   clientConfig={"url": "http://h/x?q=1"}, admissionReviewVersions=["v2"])
    with kernel.client() as http:
        response = http.post(f"{BASE}/validatingwebhookconfigurations",
                             json=_config("ValidatingWebhookConfiguration", "bad", bad))
    assert response.status_code == 422
    causes = {(c["field"], c["message"]) for c in response.json()["details"]["causes"]}
    assert ("webhooks[0].name", 'Invalid value: "short.name": should be a domain with at least three segments '
            "separated by dots") in causes
    assert ("webhooks[0].sideEffects", 'Unsupported value: "Some": supported values: "None", "NoneOnDryRun"') in causes
    assert ("webhooks[0].timeoutSeconds", "Invalid value: 31: the timeout value must be between 1 and 30 seconds") in causes
    assert ("webhooks[0].clientConfig.url", "Invalid value: \"http\": 'https' is the only allowed URL scheme; "
            "desired format: https://host[/path]") in causes
    assert ("webhooks[0].clientConfig.url", 'Invalid value: "q=1": query parameters are not permitted in the URL') in causes
    assert ("webhooks[0].admissionReviewVersions", 'Invalid value: []string{"v2"}: must include at least one of '
            "v1, v1beta1") in causes


def test_webhook_names_unique_and_client_config_exclusive(kernel: KernelProcess) -> None:
    both = _webhook("b.example.com", clientConfig={"url": "https://x", "service": {"namespace": "a", "name": "b"}})
    with kernel.client() as http:
        response = http.post(f"{BASE}/validatingwebhookconfigurations", json=_config(
            "ValidatingWebhookConfiguration", "dup", _webhook("a.example.com"), _webhook("a.example.com"), both))
    assert response.status_code == 422
    causes = {(c["field"], c["message"]) for c in response.json()["details"]["causes"]}
    assert ("webhooks[1].name", 'Duplicate value: "a.example.com"') in causes
    assert ("webhooks[2].clientConfig", "Required value: exactly one of url or service is required") in causes


def test_rule_resources_checks(kernel: KernelProcess) -> None:
    rule = {**RULE, "resources": ["*/*", "pods"], "operations": ["*", "CREATE"], "apiGroups": []}
    with kernel.client() as http:
        response = http.post(f"{BASE}/validatingwebhookconfigurations", json=_config(
            "ValidatingWebhookConfiguration", "rules", _webhook(rules=[rule])))
    assert response.status_code == 422
    causes = {(c["field"], c["message"]) for c in response.json()["details"]["causes"]}
    assert ("webhooks[0].rules[0].apiGroups", "Required value") in causes
    assert ("webhooks[0].rules[0].resources", "Invalid value: []string{\"*/*\", \"pods\"}: if '*/*' is present, "
            "must not specify other resources") in causes
    assert ("webhooks[0].rules[0].operations", "Invalid value: []string{\"*\", \"CREATE\"}: if '*' is present, "
            "must not specify other operations") in causes


def test_generation_counts_webhook_changes(kernel: KernelProcess) -> None:
    path = f"{BASE}/validatingwebhookconfigurations"
    with kernel.client() as http:
        made = http.post(path, json=_config("ValidatingWebhookConfiguration", "gen", _webhook())).json()
        made["metadata"]["labels"] = {"a": "b"}
        labelled = http.put(f"{path}/gen", json=made).json()
        assert labelled["metadata"]["generation"] == 1
        labelled["webhooks"][0]["timeoutSeconds"] = 5
        assert http.put(f"{path}/gen", json=labelled).json()["metadata"]["generation"] == 2


def test_policy_defaults_status_and_generation(kernel: KernelProcess) -> None:
    path = f"{BASE}/validatingadmissionpolicies"
    with kernel.client() as http:
        body = _policy("small")
        body["status"] = {"observedGeneration": 7}
        made = http.post(path, json=body)
        assert made.status_code == 201, made.text
        policy = made.json()
        assert policy["spec"]["failurePolicy"] == "Fail"
        constraints = policy["spec"]["matchConstraints"]
        assert constraints["matchPolicy"] == "Equivalent" and constraints["namespaceSelector"] == {}
        assert constraints["resourceRules"][0]["scope"] == "*"
        assert policy.get("status", {}) == {}  # status only through /status
        policy["status"] = {"observedGeneration": 1, "typeChecking": {"expressionWarnings": []}}
        written = http.put(f"{path}/small/status", json=policy)
        assert written.status_code == 200, written.text
        assert written.json()["status"]["observedGeneration"] == 1
        policy = written.json()
        policy["spec"]["validations"][0]["message"] = "too many keys"
        updated = http.put(f"{path}/small", json=policy).json()
        assert updated["metadata"]["generation"] == 2 and updated["status"]["observedGeneration"] == 1


def test_policy_validation_messages(kernel: KernelProcess) -> None:
    body = _policy("bad", failurePolicy="Sometimes", paramKind={"apiVersion": "v1"},
                   validations=[{"expression": "object.data.size() <", "reason": "Teapot"},
                                {"expression": "1 + 1"}])
    body["spec"]["matchConstraints"] = {"resourceRules": []}
    with kernel.client() as http:
        response = http.post(f"{BASE}/validatingadmissionpolicies", json=body)
    assert response.status_code == 422
    causes = {(c["field"], c["message"]) for c in response.json()["details"]["causes"]}
    fields = {field for field, _ in causes}
    assert ("spec.failurePolicy", 'Unsupported value: "Sometimes": supported values: "Fail", "Ignore"') in causes
    assert ("spec.paramKind.kind", "Required value") in causes
    assert ("spec.matchConstraints.resourceRules", "Required value") in causes
    assert ("spec.validations[0].reason", 'Unsupported value: "Teapot": supported values: "Forbidden", '
            '"Invalid", "RequestEntityTooLarge"') in causes
    assert "spec.validations[0].expression" in fields
    compile_error = next(m for f, m in causes if f == "spec.validations[0].expression")
    assert compile_error.startswith('Invalid value: "object.data.size() <": compilation failed: ERROR: <input>:1:')
    assert ("spec.validations[1].expression", 'Invalid value: "1 + 1": must evaluate to bool but got int') in causes


def test_binding_validation_and_columns(kernel: KernelProcess) -> None:
    """Makes its own policy and webhook configuration: the module's tests share a server but
    may run on different pytest-xdist workers."""
    path = f"{BASE}/validatingadmissionpolicybindings"
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": "b"}, "spec": {"policyName": "columns", "validationActions": ["Deny", "Warn"],
                                                   "paramRef": {"name": "p", "selector": {}}}}
    with kernel.client() as http:
        assert http.post(f"{BASE}/validatingadmissionpolicies", json=_policy("columns")).status_code == 201
        listed = _config("ValidatingWebhookConfiguration", "listed", _webhook())
        assert http.post(f"{BASE}/validatingwebhookconfigurations", json=listed).status_code == 201
        response = http.post(path, json=binding)
        assert response.status_code == 422
        causes = {(c["field"], c["message"]) for c in response.json()["details"]["causes"]}
        assert ("spec.paramRef.name", "Forbidden: name and selector are mutually exclusive") in causes
        assert ("spec.paramRef.parameterNotFoundAction", "Required value") in causes
        assert any(f == "spec.validationActions" and "must not contain both Deny and Warn" in m for f, m in causes)
        binding["spec"]["validationActions"] = ["Deny"]
        binding["spec"]["paramRef"] = {"name": "p", "namespace": "default", "parameterNotFoundAction": "Deny"}
        assert http.post(path, json=binding).status_code == 201
    lines = kernel.kubectl("get", "validatingadmissionpolicybindings", "b").stdout.splitlines()
    assert lines[0].split() == ["NAME", "POLICYNAME", "PARAMREF", "AGE"]
    assert lines[1].split()[:3] == ["b", "columns", "default/p"]
    lines = kernel.kubectl("get", "validatingadmissionpolicies", "columns").stdout.splitlines()
    assert lines[0].split() == ["NAME", "VALIDATIONS", "PARAMKIND", "AGE"]
    assert lines[1].split()[:3] == ["columns", "1", "<unset>"]
    assert "validatingwebhookconfiguration.admissionregistration.k8s.io/listed" in kernel.kubectl(
        "get", "api-extensions", "-o", "name").stdout
