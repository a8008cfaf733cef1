"""kubectl against `kernel serve` (api_core on storage_memory), as a user would drive it."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time

import pytest
import yaml

from kernel.testing import KUBECTL

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")


@pytest.fixture
def kernel(kernel_process):
    return kernel_process()


def test_namespaces_configmaps_secrets_lifecycle(kernel):
    assert "namespace/team-a created" in kernel.kubectl("create", "namespace", "team-a").stdout
    names = kernel.kubectl("get", "ns", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/kube-system", "namespace/kube-public",
            "namespace/kube-node-lease", "namespace/team-a"} <= set(names)
    # protobuf bodies (kubectl create configmap|secret send them)
    kernel.kubectl("create", "configmap", "settings", "-n", "team-a", "--from-literal=color=blue",
                "--from-literal=size=xl")
    kernel.kubectl("create", "secret", "generic", "creds", "-n", "team-a", "--from-literal=password=hunter2")
    cm = kernel.kubectl_json("get", "configmap", "settings", "-n", "team-a")
    assert cm["data"] == {"color": "blue", "size": "xl"}
    assert cm["metadata"]["uid"] and cm["metadata"]["creationTimestamp"] and cm["metadata"]["resourceVersion"]
    secret = kernel.kubectl_json("get", "secret", "creds", "-n", "team-a")
    assert secret["data"] == {"password": "aHVudGVyMg=="} and secret["type"] == "Opaque"
    table = kernel.kubectl("get", "cm,secret", "-n", "team-a").stdout
    assert "settings" in table and "DATA" in table and "creds" in table and "Opaque" in table
    as_yaml = yaml.safe_load(kernel.kubectl("get", "cm", "settings", "-n", "team-a", "-o", "yaml").stdout)
    assert as_yaml["data"]["size"] == "xl"
    wide = kernel.kubectl("get", "ns", "team-a", "-o", "wide").stdout
    assert "STATUS" in wide and "Active" in wide

    kernel.kubectl("delete", "namespace", "team-a", timeout=60)
    result = kernel.kubectl("get", "cm", "-n", "team-a", "-o", "name", check=False)
    assert result.stdout.strip() == ""
    assert "NotFound" in kernel.kubectl("get", "ns", "team-a", check=False).stderr


def test_apply_twice_label_annotate_patch_replace_conflict(kernel, tmp_path):
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: app
          namespace: default
        data:
          a: "1"
        """))
    assert "configmap/app created" in kernel.kubectl("apply", "-f", str(manifest)).stdout
    manifest.write_text(manifest.read_text().replace('a: "1"', 'a: "2"\n  b: "3"'))
    assert "configmap/app configured" in kernel.kubectl("apply", "-f", str(manifest)).stdout
    cm = kernel.kubectl_json("get", "cm", "app")
    assert cm["data"] == {"a": "2", "b": "3"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in cm["metadata"]["annotations"]

    kernel.kubectl("label", "cm", "app", "tier=web")
    kernel.kubectl("annotate", "cm", "app", "owner=ops")
    kernel.kubectl("patch", "cm", "app", "--type=merge", "-p", '{"data":{"c":"4"}}')
    kernel.kubectl("patch", "cm", "app", "--type=json", "-p", '[{"op":"remove","path":"/data/a"}]')
    kernel.kubectl("patch", "cm", "app", "--type=strategic", "-p", '{"metadata":{"labels":{"tier":null}}}')
    cm = kernel.kubectl_json("get", "cm", "app")
    assert cm["data"] == {"b": "3", "c": "4"}
    assert "tier" not in (cm["metadata"].get("labels") or {})
    assert cm["metadata"]["annotations"]["owner"] == "ops"

    stale = dict(cm)
    stale["metadata"] = {**cm["metadata"], "resourceVersion": "1"}
    stale_file = tmp_path / "stale.json"
    stale_file.write_text(json.dumps(stale))
    result = kernel.kubectl("replace", "-f", str(stale_file), check=False)
    assert result.returncode != 0
    assert 'Operation cannot be fulfilled on configmaps "app": the object has been modified' in result.stderr


def test_edit_with_scripted_editor(kernel, tmp_path):
    kernel.kubectl("create", "configmap", "edited", "--from-literal=k=v")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/k: v/k: edited/' \"$1\"\n")
    editor.chmod(0o755)
    kernel.kubectl("edit", "cm", "edited", env={"KUBE_EDITOR": str(editor)})
    assert kernel.kubectl_json("get", "cm", "edited")["data"] == {"k": "edited"}


def test_watch_sees_added_modified_deleted(kernel):
    watcher = subprocess.Popen(
        [KUBECTL, "--kubeconfig", kernel.kubeconfig, "get", "cm", "-w", "--output-watch-events",
         "--request-timeout=20s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kernel.kubectl_env)
    try:
        time.sleep(1.5)
        kernel.kubectl("create", "configmap", "watched", "--from-literal=v=1")
        kernel.kubectl("patch", "cm", "watched", "--type=merge", "-p", '{"data":{"v":"2"}}')
        kernel.kubectl("delete", "cm", "watched")
        time.sleep(1.5)
    finally:
        watcher.terminate()
        out, err = watcher.communicate(timeout=10)
    lines = [line.split() for line in out.splitlines() if " watched " in f" {line} "]
    assert [line[0] for line in lines] == ["ADDED", "MODIFIED", "DELETED"], out + err
    assert out.splitlines()[0].split()[:3] == ["EVENT", "NAME", "DATA"]  # server-side Table columns


def test_selectors_chunking_dry_run_diff(kernel, tmp_path):
    for i in range(7):
        kernel.kubectl("create", "configmap", f"item-{i}", f"--from-literal=i={i}")
        kernel.kubectl("label", "cm", f"item-{i}", f"parity={'even' if i % 2 == 0 else 'odd'}")
    even = kernel.kubectl("get", "cm", "-l", "parity=even", "-o", "name").stdout.split()
    assert even == [f"configmap/item-{i}" for i in (0, 2, 4, 6)]
    odd = kernel.kubectl("get", "cm", "-l", "parity in (odd),parity!=even", "-o", "name").stdout.split()
    assert odd == [f"configmap/item-{i}" for i in (1, 3, 5)]
    one = kernel.kubectl("get", "cm", "--field-selector", "metadata.name=item-3", "-o", "name").stdout.split()
    assert one == ["configmap/item-3"]
    chunked = kernel.kubectl("get", "cm", "--chunk-size=2", "-o", "name", "-v=6")
    names = [n for n in chunked.stdout.split() if n.startswith("configmap/item-")]
    assert names == [f"configmap/item-{i}" for i in range(7)]
    pages = [line for line in chunked.stderr.splitlines() if "/configmaps?" in line and "limit=2" in line]
    assert len(pages) >= 4 and sum("continue=" in line for line in pages) == len(pages) - 1  # paged

    kernel.kubectl("create", "configmap", "ghost", "--from-literal=a=b", "--dry-run=server")
    assert "NotFound" in kernel.kubectl("get", "cm", "ghost", check=False).stderr
    kernel.kubectl("delete", "cm", "item-0", "--dry-run=server")
    kernel.kubectl_json("get", "cm", "item-0")

    changed = tmp_path / "changed.yaml"
    changed.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: item-1\n  namespace: default\n"
                       "  labels:\n    parity: odd\ndata:\n  i: changed\n")
    diff = kernel.kubectl("diff", "-f", str(changed), check=False)
    assert diff.returncode == 1, diff.stderr  # 1: differences found
    assert "+  i: changed" in diff.stdout
    assert kernel.kubectl_json("get", "cm", "item-1")["data"] == {"i": "1"}  # diff changed nothing


def test_invalid_name_is_kubes_invalid_error(kernel, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\ndata:\n  a: b\n")
    result = kernel.kubectl("create", "-f", str(bad), check=False)
    assert result.returncode != 0
    assert 'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ' \
           "a lowercase RFC 1123 subdomain must consist of" in result.stderr


def test_api_resources_and_explain(kernel):
    resources = kernel.kubectl("api-resources").stdout
    for row in (["configmaps", "cm", "v1", "true", "ConfigMap"], ["namespaces", "ns", "v1", "false", "Namespace"],
                ["secrets", "v1", "true", "Secret"]):
        assert any(line.split() == row for line in resources.splitlines()), (row, resources)
    explained = kernel.kubectl("explain", "configmap.data").stdout
    assert "KIND:       ConfigMap" in explained and "FIELD: data" in explained
