"""Static manifests (kube's staticManifestsDir): what the loader accepts and kube's refusals,
checked by ``kernel serve`` before it starts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kernel.testing import KERNEL
from kernel_admission_policy import manifests

FLAG = "--validating-admission-policy-static-manifests-dir"
GV = "admissionregistration.k8s.io/v1"


def policy(name: str, **spec: object) -> dict:
    return {"apiVersion": GV, "kind": "ValidatingAdmissionPolicy", "metadata": {"name": name},
            "spec": {"validations": [{"expression": "true"}], **spec}}


def binding(name: str, policy_name: str, **spec: object) -> dict:
    return {"apiVersion": GV, "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name},
            "spec": {"policyName": policy_name, "validationActions": ["Deny"], **spec}}


def write(directory: Path, *objects: dict) -> str:
    directory.mkdir(exist_ok=True)
    (directory / "a.yaml").write_text("\n---\n".join(json.dumps(o) for o in objects))
    (directory / "ignored.txt").write_text("not a manifest")
    return str(directory)


def test_loads_yaml_documents(tmp_path: Path) -> None:
    policies, bindings = manifests.load(write(tmp_path / "m", policy("p.static.k8s.io"),
                                              binding("b.static.k8s.io", "p.static.k8s.io")))
    assert [p["metadata"]["name"] for p in policies] == ["p.static.k8s.io"]
    assert [b["metadata"]["name"] for b in bindings] == ["b.static.k8s.io"]


@pytest.mark.parametrize(("objects", "message"), [
    ([policy("p")], "ValidatingAdmissionPolicy name 'p' must end with '.static.k8s.io'"),
    ([policy("p.static.k8s.io", paramKind={"apiVersion": "v1", "kind": "ConfigMap"})],
     "ValidatingAdmissionPolicy 'p.static.k8s.io': spec.paramKind is not supported for static manifests"),
    ([binding("b.static.k8s.io", "q.static.k8s.io")],
     "binding 'b.static.k8s.io' references policy 'q.static.k8s.io' which does not exist in the "
     "manifest directory"),
    ([policy("p.static.k8s.io"), binding("b.static.k8s.io", "p.static.k8s.io", paramRef={"name": "x"})],
     "binding 'b.static.k8s.io': spec.paramRef is not supported for static manifests"),
    ([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c.static.k8s.io"}}],
     "unrecognized resource type v1, Kind=ConfigMap"),
])
def test_refusals_stop_the_server_from_starting(tmp_path: Path, objects: list[dict], message: str) -> None:
    directory = write(tmp_path / "m", *objects)
    result = subprocess.run([KERNEL, "serve", "--secure-port=0", f"--cert-dir={tmp_path / 'certs'}",
                             f"{FLAG}={directory}"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{FLAG}: " in result.stderr and message in result.stderr, result.stderr
