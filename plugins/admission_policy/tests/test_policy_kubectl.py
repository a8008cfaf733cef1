"""ValidatingAdmissionPolicy end to end with real kubectl against ``kernel serve``: a policy with
a param object limiting deployment replicas, Warn and Audit actions, a missing param, failure
policies, messageExpression, variables, and the type-checking status.

Expected texts are kube's (validating/dispatcher.go, validator.go, policy/generic
CollectParams, typechecking.go), not what this server answers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

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
