"""authn_apikey installed as a third party would: a served request with a key, without, and bad."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kernel.testing import start_kernel

pytest.importorskip("kernel_authn_apikey", reason="the example is tested installed: .ci/run pip-installs it")

from kernel_authn_apikey.keyfile import KeyFileError, parse

KEYS = "# key,user,groups\nkey-jane-0123456789,jane,dev|ops\n"
PLUGINS = "--plugins=api_core,api_authentication,storage_memory,authn_apikey"


@pytest.fixture
def kernel(tmp_path):
    (tmp_path / "keys").write_text(KEYS)
    kernel = start_kernel(tmp_path / "kernel", PLUGINS, f"--apikey-file={tmp_path / 'keys'}",
                          "--authorization-mode=AlwaysAllow")
    yield kernel
    kernel.stop()


def test_a_key_is_a_user_and_a_bad_key_is_401(kernel) -> None:
    with kernel.client(token=None) as client:
        client.headers["X-Api-Key"] = "key-jane-0123456789"
        listed = client.get("/api/v1/namespaces/default/configmaps")
        assert listed.status_code == 200, listed.text
        review = client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                             json={"apiVersion": "authentication.k8s.io/v1",
                                   "kind": "SelfSubjectReview"}).json()
        info = review["status"]["userInfo"]
        assert (info["username"], info["groups"]) == ("jane", ["dev", "ops", "system:authenticated"])
    with kernel.client(token=None) as client:
        client.headers["X-Api-Key"] = "key-jane-wrong"
        response = client.get("/api/v1/namespaces/default/configmaps")
        assert (response.status_code, response.json()["reason"]) == (401, "Unauthorized")
    # The admin kubeconfig (loopback token) still works beside it: kubectl is served as before.
    assert "default" in kernel.kubectl("get", "namespaces", "-o", "name").stdout


def test_a_bad_key_file_stops_serve_with_the_line(tmp_path) -> None:
    (tmp_path / "keys").write_text("only-a-key\n")
    with pytest.raises(KeyFileError, match="keys:1"):
        parse((tmp_path / "keys").read_text(), str(tmp_path / "keys"))
    result = subprocess.run([str(Path(sys.executable).parent / "kernel"), "serve", PLUGINS,
                             f"--apikey-file={tmp_path / 'keys'}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "--apikey-file" in result.stderr + result.stdout
