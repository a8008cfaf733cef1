"""ValidatingAdmissionPolicy end to end with real kubectl against ``kernel serve``: a policy with
a param object limiting deployment replicas, Warn and Audit actions, a missing param, failure
policies, messageExpression, variables, and the type-checking status.

Expected texts are kube's (validating/dispatcher.go, validator.go, policy/generic
CollectParams, typechecking.go), not what this server answers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from kernel.testing import KernelProcess, start_kernel

PLUGINS = ("--plugins=api_core,api_apps,storage_memory,api_admissionregistration,"
           "admission_policy,api_apiextensions")
WAIT = 30.0  # only bounds a hang

REPLICA_POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: replica-limit
spec:
  failurePolicy: Fail
  paramKind:
    apiVersion: v1
    kind: ConfigMap
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
  validations:
  - expression: "object.spec.replicas <= int(params.data.maxReplicas)"
    message: "replicas must be no greater than the limit"
"""

REPLICA_BINDING = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: replica-limit-{suffix}
spec:
  policyName: replica-limit
  validationActions: [{action}]
  paramRef:
    name: replica-limit
    namespace: default
    parameterNotFoundAction: {not_found}
  matchResources:
    namespaceSelector:
      matchLabels:
        env: {env}
"""

LIMIT = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: replica-limit
  namespace: default
data:
  maxReplicas: "5"
"""


def deployment(name: str, namespace: str, replicas: int) -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    server = start_kernel(tmp_path_factory.mktemp("vap"), PLUGINS, "--authorization-mode=AlwaysAllow")
    try:
        yield server
    finally:
        server.stop()


def namespace(kernel: KernelProcess, name: str, env: str) -> None:
    kernel.kubectl("create", "namespace", name)
    kernel.kubectl("label", "namespace", name, f"env={env}")


def until_refused(kernel: KernelProcess, *args: str, input: str) -> str:
    """The policy is read through an informer: retry the request until it is refused."""
    deadline = time.monotonic() + WAIT
    while True:
        result = kernel.kubectl(*args, input=input, check=False)
        if result.returncode != 0:
            return result.stderr
        kernel.kubectl("delete", "-f", "-", input=input, check=False)
        assert time.monotonic() < deadline, f"never refused: {result.stdout}"
        time.sleep(0.1)


def test_replica_limit_with_a_param_denies_with_its_message(kernel: KernelProcess) -> None:
    namespace(kernel, "prod", "prod")
    kernel.kubectl("apply", "-f", "-", input=LIMIT)
    kernel.kubectl("apply", "-f", "-", input=REPLICA_POLICY)
    kernel.kubectl("apply", "-f", "-", input=REPLICA_BINDING.format(
        suffix="deny", action="Deny", not_found="Deny", env="prod"))
    error = until_refused(kernel, "create", "-f", "-", input=deployment("big", "prod", 10))
    assert ('The deployments "big" is invalid: : ValidatingAdmissionPolicy \'replica-limit\' with '
            "binding 'replica-limit-deny' denied request: replicas must be no greater than the "
            "limit") in error, error
    kernel.kubectl("create", "-f", "-", input=deployment("small", "prod", 5))
    # the param is read when the request comes: raising the limit admits at once
    kernel.kubectl("patch", "configmap", "replica-limit", "-n", "default", "--type=merge",
                   "-p", '{"data":{"maxReplicas":"20"}}')
    deadline = time.monotonic() + WAIT
    while kernel.kubectl("create", "-f", "-", input=deployment("big", "prod", 10),
                         check=False).returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # other namespaces are not selected by the binding
    namespace(kernel, "dev", "dev")
    kernel.kubectl("create", "-f", "-", input=deployment("huge", "dev", 50))


def policy(name: str, validations: list[dict], *, failure: str = "Fail", variables: list | None = None,
           audit: list | None = None, param_kind: dict | None = None) -> dict:
    """A policy on deployments in namespaces labelled ``test=<name>``."""
    spec: dict = {"failurePolicy": failure, "validations": validations,
                  "matchConstraints": {
                      "namespaceSelector": {"matchLabels": {"test": name}},
                      "resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                                         "operations": ["CREATE", "UPDATE"],
                                         "resources": ["deployments"]}]}}
    if variables:
        spec["variables"] = variables
    if audit:
        spec["auditAnnotations"] = audit
    if param_kind:
        spec["paramKind"] = param_kind
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name}, "spec": spec}


def bind(kernel: KernelProcess, obj: dict, actions: tuple[str, ...] = ("Deny",),
         param_ref: dict | None = None) -> None:
    """Create the policy, its namespace and its binding."""
    name = obj["metadata"]["name"]
    spec: dict = {"policyName": name, "validationActions": list(actions)}
    if param_ref:
        spec["paramRef"] = param_ref
    binding = {"apiVersion": "admissionregistration.k8s.io/v1",
               "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name}, "spec": spec}
    kernel.kubectl("create", "namespace", name)
    kernel.kubectl("label", "namespace", name, f"test={name}")
    kernel.kubectl("apply", "-f", "-", input=json.dumps(obj))
    kernel.kubectl("apply", "-f", "-", input=json.dumps(binding))


def until_warned(kernel: KernelProcess, name: str, replicas: int) -> str:
    deadline = time.monotonic() + WAIT
    while True:
        result = kernel.kubectl("create", "-f", "-", input=deployment(f"d{replicas}", name, replicas))
        if "Warning:" in result.stderr:
            return result.stderr
        kernel.kubectl("delete", "deployment", f"d{replicas}", "-n", name)
        assert time.monotonic() < deadline, f"never warned: {result.stderr}"
        time.sleep(0.1)


def test_warn_shows_a_warning_in_kubectl_and_admits(kernel: KernelProcess) -> None:
    bind(kernel, policy("warn", [{"expression": "object.spec.replicas <= 5",
                                  "message": "at most 5 replicas"}]), ("Warn",))
    stderr = until_warned(kernel, "warn", 8)
    assert ("Warning: Validation failed for ValidatingAdmissionPolicy 'warn' with binding 'warn': "
            "at most 5 replicas") in stderr, stderr
    assert kernel.kubectl("get", "deployment", "d8", "-n", "warn", "-o", "name").stdout.strip() == \
        "deployment.apps/d8"


def test_message_expression_reason_and_variables(kernel: KernelProcess) -> None:
    bind(kernel, policy("message", [{
        "expression": "variables.replicas <= 5", "reason": "Forbidden",
        "messageExpression": "'replicas ' + string(variables.replicas) + ' is over ' + string(variables.limit)"}],
        variables=[{"name": "limit", "expression": "5"},
                   {"name": "replicas", "expression": "object.spec.replicas"}]))
    error = until_refused(kernel, "create", "-f", "-", input=deployment("d", "message", 7))
    assert ('Error from server (Forbidden): error when creating "STDIN": deployments.apps "d" is '
            "forbidden: ValidatingAdmissionPolicy 'message' with binding 'message' denied request: "
            "replicas 7 is over 5") in error, error


def test_failed_expression_message_without_message(kernel: KernelProcess) -> None:
    bind(kernel, policy("bare", [{"expression": "object.spec.replicas <= 5"}]))
    error = until_refused(kernel, "create", "-f", "-", input=deployment("d", "bare", 6))
    assert ("ValidatingAdmissionPolicy 'bare' with binding 'bare' denied request: failed "
            "expression: object.spec.replicas <= 5") in error, error


def test_erroring_expression_fails_closed_or_is_ignored(kernel: KernelProcess) -> None:
    expression = "object.spec.template.spec.nodeName == 'x'"  # no such key: nodeName
    bind(kernel, policy("fail", [{"expression": expression}]))
    error = until_refused(kernel, "create", "-f", "-", input=deployment("d", "fail", 1))
    assert (f"ValidatingAdmissionPolicy 'fail' with binding 'fail' denied request: expression "
            f"'{expression}' resulted in error: no such key: nodeName") in error, error
    bind(kernel, policy("ignore", [{"expression": expression}], failure="Ignore"))
    time.sleep(0.5)  # let the informer see the binding: Ignore must still admit
    kernel.kubectl("create", "-f", "-", input=deployment("d", "ignore", 1))


def test_param_not_found(kernel: KernelProcess) -> None:
    kind = {"apiVersion": "v1", "kind": "ConfigMap"}
    checks = [{"expression": "object.spec.replicas <= int(params.data.max)"}]
    bind(kernel, policy("noparam-deny", checks, param_kind=kind),
         param_ref={"name": "missing", "parameterNotFoundAction": "Deny"})
    error = until_refused(kernel, "create", "-f", "-", input=deployment("d", "noparam-deny", 1))
    assert ("ValidatingAdmissionPolicy 'noparam-deny' with binding 'noparam-deny' denied request: "
            "failed to configure binding: no params found for policy binding with `Deny` "
            "parameterNotFoundAction") in error, error
    bind(kernel, policy("noparam-allow", checks, param_kind=kind),
         param_ref={"name": "missing", "parameterNotFoundAction": "Allow"})
    time.sleep(0.5)
    kernel.kubectl("create", "-f", "-", input=deployment("d", "noparam-allow", 100))
    # the param in the request's namespace (paramRef without a namespace) is found once created
    kernel.kubectl("create", "configmap", "missing", "-n", "noparam-deny", "--from-literal=max=3")
    deadline = time.monotonic() + WAIT
    while kernel.kubectl("create", "-f", "-", input=deployment("ok", "noparam-deny", 2),
                         check=False).returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    error = kernel.kubectl("create", "-f", "-", input=deployment("big", "noparam-deny", 4),
                           check=False).stderr
    assert "failed expression: object.spec.replicas <= int(params.data.max)" in error, error


def test_unknown_param_kind_is_a_policy_configuration_error(kernel: KernelProcess) -> None:
    bind(kernel, policy("nokind", [{"expression": "true"}],
                        param_kind={"apiVersion": "example.com/v1", "kind": "Nope"}),
         param_ref={"name": "x", "parameterNotFoundAction": "Allow"})
    error = until_refused(kernel, "create", "-f", "-", input=deployment("d", "nokind", 1))
    assert ("ValidatingAdmissionPolicy 'nokind' denied request: failed to configure policy: "
            "failed to find resource referenced by paramKind: 'example.com/v1, Kind=Nope'") in error, error


TYPED_POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: typed
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["deployments"]
  validations:
  - expression: "object.spec.replicas <= 5"
  - expression: "object.spec.replicass <= 5"
    messageExpression: "'too many: ' + string(object.spec.replicas)"
"""


def status_of(kernel: KernelProcess, name: str, generation: int) -> dict:
    deadline = time.monotonic() + WAIT
    while True:
        obj = kernel.kubectl_json("get", "validatingadmissionpolicy", name)
        if (obj.get("status") or {}).get("observedGeneration") == generation:
            return obj["status"]
        assert time.monotonic() < deadline, obj
        time.sleep(0.1)


def test_type_checking_warnings_in_status(kernel: KernelProcess) -> None:
    kernel.kubectl("apply", "-f", "-", input=TYPED_POLICY)
    status = status_of(kernel, "typed", 1)
    assert status["typeChecking"]["expressionWarnings"] == [{
        "fieldRef": "spec.validations[1].expression",
        "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:12: undefined field 'replicass'\n"
                   " | object.spec.replicass <= 5\n"
                   " | ...........^\n"}]
    # fixed in generation 2: no warnings left
    kernel.kubectl("apply", "-f", "-", input=TYPED_POLICY.replace("replicass", "replicas"))
    status = status_of(kernel, "typed", 2)
    assert not (status.get("typeChecking") or {}).get("expressionWarnings"), status
    yaml_text = kernel.kubectl("get", "validatingadmissionpolicy", "typed", "-o", "yaml").stdout
    assert "observedGeneration: 2" in yaml_text, yaml_text


def test_type_mismatch_warning_and_observed_generation(kernel: KernelProcess) -> None:
    """kube's typechecking_test "field type mismatch": the warning names the kind and holds
    the checker's ``found no matching overload``; a policy with no rule naming a kind is not
    checked (wildcards) but its generation is still observed."""
    typed = json.loads(json.dumps(policy("mismatch", [{"expression": "object.spec.replicas <= 5"},
                                                      {"expression": "object == 1"}])))
    typed["spec"]["matchConstraints"].pop("namespaceSelector")
    kernel.kubectl("apply", "-f", "-", input=json.dumps(typed))
    status = status_of(kernel, "mismatch", 1)
    [warning] = status["typeChecking"]["expressionWarnings"]
    assert warning["fieldRef"] == "spec.validations[1].expression"
    assert warning["warning"].startswith("apps/v1, Kind=Deployment: ERROR: <input>:1:8: ")
    assert "found no matching overload for '_==_'" in warning["warning"], warning
    wildcard = json.loads(json.dumps(typed))
    wildcard["metadata"]["name"] = "wildcard"
    wildcard["spec"]["matchConstraints"]["resourceRules"][0]["apiGroups"] = ["*"]
    kernel.kubectl("apply", "-f", "-", input=json.dumps(wildcard))
    assert not (status_of(kernel, "wildcard", 1).get("typeChecking") or {}).get("expressionWarnings")
