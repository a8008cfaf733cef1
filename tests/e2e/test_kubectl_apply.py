"""Server-side apply with the real kubectl: ``apply --server-side`` (create, change, a conflict
with another ``--field-manager`` worded as kube words it, ``--force-conflicts``), ``diff`` (with
and without ``--server-side``), client-side ``apply`` switched to ``--server-side`` (kube's
last-applied upgrade), managedFields hidden by ``get`` unless ``--show-managed-fields``, and
``patch``/``replace`` recorded as Update managers."""

from __future__ import annotations

import os

import pytest

from kernel.testing import KUBECTL, KernelProcess, start_kernel

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason=f"{KUBECTL} is not installed")

PLUGINS = "--plugins=api_core,api_apps,api_apiextensions,storage_memory"


def configmap(name: str, **data: str) -> str:
    lines = "".join(f"  {key}: {value!r}\n" for key, value in data.items())
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"
            + (f"data:\n{lines}" if data else ""))


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    kernel = start_kernel(tmp_path_factory.mktemp("kubectl-apply"), PLUGINS,
                          "--authorization-mode=AlwaysAllow")
    yield kernel
    kernel.stop()


def managers(kernel: KernelProcess, kind: str, name: str) -> dict[tuple[str, str], dict]:
    obj = kernel.kubectl_json("get", kind, name, "--show-managed-fields")
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def test_apply_server_side_create_change_conflict_force(kernel: KernelProcess) -> None:
    created = kernel.kubectl("apply", "--server-side", "-f", "-", input=configmap("ssa", k="v1"))
    assert created.stdout.strip() == "configmap/ssa serverside-applied"
    assert set(managers(kernel, "cm", "ssa")) == {("kubectl", "Apply")}  # kubectl's default manager
    kernel.kubectl("apply", "--server-side", "-f", "-", input=configmap("ssa", k="v2"))
    assert kernel.kubectl_json("get", "cm", "ssa")["data"] == {"k": "v2"}

    conflict = kernel.kubectl("apply", "--server-side", "--field-manager=other", "-f", "-",
                              input=configmap("ssa", k="v3"), check=False)
    assert conflict.returncode == 1
    # kube's message, which kubectl prints after "error: " with its advice on resolving it
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .data.k' in conflict.stderr
    assert "--force-conflicts" in conflict.stderr
    assert kernel.kubectl_json("get", "cm", "ssa")["data"] == {"k": "v2"}

    kernel.kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-",
                   input=configmap("ssa", k="v3"))
    assert kernel.kubectl_json("get", "cm", "ssa")["data"] == {"k": "v3"}
    owners = managers(kernel, "cm", "ssa")
    assert owners[("other", "Apply")]["fieldsV1"] == {"f:data": {"f:k": {}}}
    assert "f:k" not in owners.get(("kubectl", "Apply"), {}).get("fieldsV1", {}).get("f:data", {})


@pytest.mark.parametrize("server_side", [True, False], ids=["server-side", "client-side"])
def test_diff_exit_codes_and_nothing_changes(kernel: KernelProcess, server_side: bool) -> None:
    name = f"diff-{'ssa' if server_side else 'csa'}"
    apply = ["apply", "--server-side"] if server_side else ["apply"]
    diff = ["diff", "--server-side"] if server_side else ["diff"]
    kernel.kubectl(*apply, "-f", "-", input=configmap(name, k="v1"))
    before = kernel.kubectl_json("get", "cm", name)["metadata"]["resourceVersion"]

    same = kernel.kubectl(*diff, "-f", "-", input=configmap(name, k="v1"), check=False)
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout == ""
    changed = kernel.kubectl(*diff, "-f", "-", input=configmap(name, k="v2"), check=False)
    assert changed.returncode == 1, changed.stdout + changed.stderr  # 1: differences found
    assert "-  k: v1" in changed.stdout and "+  k: v2" in changed.stdout
    assert "managedFields" not in changed.stdout  # kubectl diff masks them
    dry = kernel.kubectl(*apply, "--dry-run=server", "-f", "-", input=configmap(name, k="v2"))
    assert dry.stdout.strip().endswith("(server dry run)"), dry.stdout
    after = kernel.kubectl_json("get", "cm", name)
    assert after["data"] == {"k": "v1"} and after["metadata"]["resourceVersion"] == before


def test_client_side_apply_then_server_side(kernel: KernelProcess) -> None:
    kernel.kubectl("apply", "-f", "-", input=configmap("switch", a="1", b="2"))
    first = kernel.kubectl_json("get", "cm", "switch")
    assert "kubectl.kubernetes.io/last-applied-configuration" in first["metadata"]["annotations"]
    assert ("kubectl-client-side-apply", "Update") in managers(kernel, "cm", "switch")

    # The same configuration server-side: no conflict with the client-side manager (kube's
    # last-applied upgrade), and the fields are now kubectl's Apply fields.
    switched = kernel.kubectl("apply", "--server-side", "-f", "-", input=configmap("switch", a="1", b="2"))
    assert switched.stdout.strip() == "configmap/switch serverside-applied"
    owners = managers(kernel, "cm", "switch")
    assert owners[("kubectl", "Apply")]["fieldsV1"]["f:data"] == {"f:a": {}, "f:b": {}}

    # Dropping b from the applied configuration removes it: nobody else owns it any more.
    kernel.kubectl("apply", "--server-side", "-f", "-", input=configmap("switch", a="1"))
    assert kernel.kubectl_json("get", "cm", "switch")["data"] == {"a": "1"}


def test_get_hides_managed_fields_unless_asked(kernel: KernelProcess) -> None:
    kernel.kubectl("apply", "--server-side", "-f", "-", input=configmap("shown", k="v"))
    plain = kernel.kubectl("get", "cm", "shown", "-o", "yaml").stdout
    assert "managedFields" not in plain
    shown = kernel.kubectl("get", "cm", "shown", "-o", "yaml", "--show-managed-fields").stdout
    assert "managedFields:" in shown and "manager: kubectl" in shown and "operation: Apply" in shown
    assert "fieldsType: FieldsV1" in shown and "f:data:" in shown and "f:k: {}" in shown


def test_patch_and_replace_are_update_managers(kernel: KernelProcess) -> None:
    kernel.kubectl("apply", "--server-side", "-f", "-", input=configmap("upd", k="v"))
    kernel.kubectl("patch", "cm", "upd", "--type=merge", "-p", '{"data":{"p":"1"}}')
    owners = managers(kernel, "cm", "upd")
    assert owners[("kubectl-patch", "Update")]["fieldsV1"] == {"f:data": {"f:p": {}}}

    current = kernel.kubectl("get", "cm", "upd", "-o", "yaml").stdout
    kernel.kubectl("replace", "-f", "-", input=current.replace("p: \"1\"", "p: \"2\""))
    owners = managers(kernel, "cm", "upd")
    assert kernel.kubectl_json("get", "cm", "upd")["data"]["p"] == "2"
    assert owners[("kubectl-replace", "Update")]["fieldsV1"] == {"f:data": {"f:p": {}}}
    assert ("kubectl-patch", "Update") not in owners  # it owned nothing else: entry dropped
    assert owners[("kubectl", "Apply")]["fieldsV1"] == {"f:data": {"f:k": {}}}


def test_scale_subresource_manager_conflicts_with_the_applier(kernel: KernelProcess) -> None:
    deployment = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\n"
                  "spec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n"
                  "    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n"
                  "      - name: main\n        image: nginx\n")
    kernel.kubectl("apply", "--server-side", "-f", "-", input=deployment)
    # kube tracks a write through /scale as its own manager (subresource: scale) owning
    # .spec.replicas in the parent's apiVersion
    kernel.kubectl("patch", "deployment", "web", "--subresource=scale", "--type=merge",
                   "--field-manager=scaler", "-p", '{"spec":{"replicas":3}}')
    conflict = kernel.kubectl("apply", "--server-side", "-f", "-", input=deployment, check=False)
    assert conflict.returncode == 1
    assert ('Apply failed with 1 conflict: conflict with "scaler" with subresource "scale" '
            "using apps/v1: .spec.replicas") in conflict.stderr
    kernel.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=deployment)
    assert kernel.kubectl_json("get", "deployment", "web")["spec"]["replicas"] == 1
    owners = {(e["manager"], e.get("subresource")): e for e in kernel.kubectl_json(
        "get", "deployment", "web", "--show-managed-fields")["metadata"]["managedFields"]}
    assert ("scaler", "scale") not in owners  # it owned only replicas, now the applier's
    assert "f:replicas" in owners[("kubectl", None)]["fieldsV1"]["f:spec"]
