"""The admission contract suite (kernel.testing.contracts) against ValidatingAdmissionPolicy,
with a policy from a static manifests directory (kube's staticManifestsDir), so the server the
suite starts enforces it without the admissionregistration API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel.testing import assemble
from kernel.testing.contracts import UNCHANGED, AdmissionCase, AdmissionContract, Refused, request

POLICY = "no-deny-label.static.k8s.io"
MANIFESTS = [
    {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
     "metadata": {"name": POLICY},
     "spec": {"matchConstraints": {"resourceRules": [{
         "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
         "resources": ["namespaces"]}]},
         "validations": [{"expression": "!('deny' in object.metadata.?labels.orValue({}))",
                          "message": "label deny is not allowed", "reason": "Forbidden"}]}},
    {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
     "metadata": {"name": POLICY}, "spec": {"policyName": POLICY, "validationActions": ["Deny"]}}]


def namespace(name: str, labels: dict[str, str] | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, **({"labels": labels} if labels else {})}}


class TestValidatingAdmissionPolicyContract(AdmissionContract):
    plugin, name = "admission_policy", "ValidatingAdmissionPolicy"

    @pytest.fixture
    def manifests(self, tmp_path: Path) -> str:
        directory = tmp_path / "manifests"
        directory.mkdir()
        (directory / "policy.json").write_text(json.dumps({"kind": "List", "items": MANIFESTS}))
        return str(directory)

    @pytest.fixture
    def kernel_args(self, manifests: str) -> list[str]:
        return [f"--validating-admission-policy-static-manifests-dir={manifests}"]

    @pytest.fixture
    def admission(self, tmp_path: Path, kernel_args: list[str]) -> object:
        server = assemble(tmp_path / "assembled", "--plugins=api_core,storage_memory,admission_policy",
                          *kernel_args)
        [plugin] = [p for n, p in server.admission.validating if n == self.name]
        return plugin

    @pytest.fixture
    def cases(self) -> list[AdmissionCase]:
        refused = Refused(f"ValidatingAdmissionPolicy '{POLICY}' with binding '{POLICY}' denied "
                          "request: label deny is not allowed")
        return [
            AdmissionCase(request("CREATE", "namespaces", "", namespace("contract-ok")), UNCHANGED),
            AdmissionCase(request("CREATE", "namespaces", "", namespace("contract-bad", {"deny": "y"})),
                          refused),
            AdmissionCase(request("UPDATE", "namespaces", "", namespace("contract-ok", {"a": "b"}),
                                  old=namespace("contract-ok")), UNCHANGED),
            AdmissionCase(request("UPDATE", "namespaces", "", namespace("contract-ok", {"deny": "y"}),
                                  old=namespace("contract-ok")), refused),
            AdmissionCase(request("DELETE", "namespaces", "", None, name="contract-gone",
                                  old=namespace("contract-gone")), UNCHANGED),
        ]
