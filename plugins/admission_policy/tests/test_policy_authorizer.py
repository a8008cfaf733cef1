"""The ``authorizer`` CEL variable end to end: with RBAC, a policy lets a user create a
ConfigMap only if the user may also read Secrets in its namespace (kube's library.authz), and
``authorizer.requestResource`` checks another verb on the request's own resource. kubectl acts
as user ``bob`` by impersonation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from kernel.testing import KernelProcess, start_kernel

PLUGINS = ("--plugins=api_core,storage_memory,api_admissionregistration,admission_policy,"
           "api_rbac,authz_rbac,api_authorization,api_authentication,api_apiextensions")
WAIT = 30.0

POLICY = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": "needs-secrets"},
    "spec": {"matchConstraints": {"resourceRules": [{
        "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}]},
        "validations": [
            {"expression": "authorizer.group('').resource('secrets').namespace(object.metadata.namespace)"
                           ".check('get').allowed()",
             "messageExpression": "'user ' + request.userInfo.username + ' may not read secrets'"},
            {"expression": "authorizer.requestResource.check('delete').allowed()",
             "message": "only those who may delete configmaps may create them"}]}}
BINDING = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
           "metadata": {"name": "needs-secrets"},
           "spec": {"policyName": "needs-secrets", "validationActions": ["Deny"]}}


def role(name: str, resources: list[str], verbs: list[str]) -> str:
    return json.dumps({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "List", "items": [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": name, "namespace": "authz"},
         "rules": [{"apiGroups": [""], "resources": resources, "verbs": verbs}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": name, "namespace": "authz"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]}]})


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelProcess]:
    server = start_kernel(tmp_path_factory.mktemp("vap-authz"), PLUGINS, "--authorization-mode=RBAC")
    try:
        yield server
    finally:
        server.stop()


def create_as_bob(kernel: KernelProcess, name: str) -> str:
    result = kernel.kubectl("create", "configmap", name, "-n", "authz", "--as=bob", check=False)
    return "" if result.returncode == 0 else result.stderr


def until_not(kernel: KernelProcess, text: str) -> str:
    """RBAC reads roles through informers: retry until the refusal is no longer ``text``."""
    deadline = time.monotonic() + WAIT
    while True:
        error = create_as_bob(kernel, f"c{time.monotonic_ns()}")
        if text not in error:
            return error
        assert time.monotonic() < deadline, error
        time.sleep(0.1)


def test_authorizer_checks_the_requesting_user(kernel: KernelProcess) -> None:
    kernel.kubectl("create", "namespace", "authz")
    kernel.kubectl("apply", "-f", "-", input=role("cm-writer", ["configmaps"], ["create"]))
    assert create_as_bob(kernel, "before") == ""  # no policy yet
    kernel.kubectl("apply", "-f", "-", input=json.dumps(POLICY))
    kernel.kubectl("apply", "-f", "-", input=json.dumps(BINDING))
    deadline = time.monotonic() + WAIT
    while not (error := create_as_bob(kernel, f"c{int(time.monotonic() * 1000)}")):
        assert time.monotonic() < deadline, "the policy never applied"
        time.sleep(0.1)
    assert ("ValidatingAdmissionPolicy 'needs-secrets' with binding 'needs-secrets' denied "
            "request: user bob may not read secrets") in error, error
    kernel.kubectl("apply", "-f", "-", input=role("secret-reader", ["secrets"], ["get"]))
    error = until_not(kernel, "may not read secrets")
    assert ("ValidatingAdmissionPolicy 'needs-secrets' with binding 'needs-secrets' denied "
            "request: only those who may delete configmaps may create them") in error, error
    kernel.kubectl("apply", "-f", "-", input=role("cm-deleter", ["configmaps"], ["delete"]))
    assert until_not(kernel, "only those who may delete") == ""
    # the admin (system:masters) passes both checks
    kernel.kubectl("create", "configmap", "admin", "-n", "authz")
