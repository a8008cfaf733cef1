"""kubectl through the Allowlist mode: a token-file user may get configmaps, and is 403 on delete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kernel.testing import start_kernel

pytest.importorskip("kernel_authz_allowlist", reason="the example is tested installed: .ci/run pip-installs it")

ALLOWLIST = """
users:
  jane:
    - verbs: [get, list]
      resources: [configmaps]
    - verbs: [get]  # discovery, which kubectl reads first (kube's system:discovery role)
      nonResourceURLs: [/api, /api/*, /apis, /apis/*, /version]
"""
PLUGINS = "--plugins=api_core,storage_memory,authn_token,authz_allowlist"


@pytest.fixture
def kernel(tmp_path):
    (tmp_path / "allowlist.yaml").write_text(ALLOWLIST)
    (tmp_path / "tokens.csv").write_text("token-jane,jane,uid-jane\n")
    kernel = start_kernel(tmp_path / "kernel", PLUGINS, "--authorization-mode=Allowlist",
                          f"--allowlist-file={tmp_path / 'allowlist.yaml'}",
                          f"--token-auth-file={tmp_path / 'tokens.csv'}")
    yield kernel
    kernel.stop()


def test_kubectl_allowed_get_and_forbidden_delete(kernel) -> None:
    # The admin (system:masters) creates what jane will read.
    kernel.kubectl("create", "configmap", "settings", "--from-literal=a=1")
    as_jane = ("--token=token-jane",)
    got = kernel.kubectl_json("get", "configmaps", "settings", *as_jane)
    assert got["data"] == {"a": "1"}
    assert "settings" in kernel.kubectl("get", "configmaps", *as_jane).stdout
    denied = kernel.kubectl("delete", "configmap", "settings", *as_jane, check=False)
    assert denied.returncode != 0
    assert ('Error from server (Forbidden): configmaps "settings" is forbidden: User "jane" cannot '
            'delete resource "configmaps" in API group "" in the namespace "default": '
            "not in the allowlist") in denied.stderr
    assert kernel.kubectl_json("get", "configmaps", "settings")["data"] == {"a": "1"}  # unchanged


def test_the_mode_without_its_file_is_refused(tmp_path) -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "kernel"), "serve", PLUGINS,
                             "--authorization-mode=Allowlist"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--authorization-mode=Allowlist needs --allowlist-file" in result.stderr + result.stdout
