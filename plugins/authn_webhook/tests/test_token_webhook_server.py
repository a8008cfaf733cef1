"""``kernel serve`` with --authentication-token-webhook-config-file and a real local HTTPS
TokenReview webhook: kubectl as the webhook's user, the cache by the webhook's call count, 401s
(never anonymous) for rejected tokens and a webhook that is down, the default version, and the
startup errors of bad flags."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.testing import KERNEL, KernelProcess, start_kernel
from kernel_authn_webhook.testing import TokenWebhook

PLUGINS = "--plugins=api_authentication,storage_memory,authn_webhook"
ALICE = {"username": "alice", "uid": "u-1", "groups": ["devs", "ops"], "extra": {"team": ["blue"]}}
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


@pytest.fixture
def webhook() -> Iterator[TokenWebhook]:
    with TokenWebhook({"t-alice": ALICE}) as hook:
        yield hook


@pytest.fixture
def kernel(tmp_path: Path, webhook: TokenWebhook) -> Iterator[KernelProcess]:
    config = webhook.write_kubeconfig(tmp_path / "authn.kubeconfig")
    kernel = start_kernel(tmp_path / "k", PLUGINS, "--anonymous-auth=true",
                          f"--authentication-token-webhook-config-file={config}",
                          "--authentication-token-webhook-cache-ttl=1s")
    yield kernel
    kernel.stop()


def whoami(kernel: KernelProcess, token: str) -> dict:
    return json.loads(kernel.kubectl("auth", "whoami", "-o", "json", f"--token={token}").stdout)


def test_kubectl_is_the_webhooks_user_and_answers_are_cached(kernel: KernelProcess,
                                                             webhook: TokenWebhook) -> None:
    info = whoami(kernel, "t-alice")["status"]["userInfo"]
    assert info == {"username": "alice", "uid": "u-1", "groups": ["devs", "ops", "system:authenticated"],
                    "extra": {"team": ["blue"]}}
    # kube's default TokenReview version for the flag is v1beta1.
    assert {review["apiVersion"] for review in webhook.reviews} == {"authentication.k8s.io/v1beta1"}
    with kernel.client(token="t-alice") as client:
        calls = webhook.calls("t-alice")
        for _ in range(3):
            assert client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                               json={"kind": "SelfSubjectReview"}).status_code == 201
        assert webhook.calls("t-alice") == calls  # within the 1s TTL: no new review
    time.sleep(1.2)
    assert whoami(kernel, "t-alice")["status"]["userInfo"]["username"] == "alice"
    assert webhook.calls("t-alice") == calls + 1  # the TTL ran out: asked again


def test_a_token_the_webhook_rejects_is_401_not_anonymous(kernel: KernelProcess, webhook: TokenWebhook) -> None:
    with kernel.client(token=None) as anonymous:
        review = anonymous.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                json={"kind": "SelfSubjectReview"})
        assert review.json()["status"]["userInfo"]["username"] == "system:anonymous"
    with kernel.client(token="t-mallory") as client:
        assert client.get("/api").json() == UNAUTHORIZED
    webhook.errors["t-broken"] = "token store down"
    with kernel.client(token="t-broken") as client:
        assert client.get("/api").status_code == 401
    result = kernel.kubectl("auth", "whoami", "--token=t-mallory", check=False)
    assert result.returncode != 0 and "Unauthorized" in result.stderr


def test_the_webhook_down_is_401_for_its_tokens(kernel: KernelProcess, webhook: TokenWebhook) -> None:
    webhook.stop()
    with kernel.client(token="t-alice") as client:
        response = client.get("/api")
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert "Failed to make webhook authenticator request" in kernel.log()


def test_retries_on_a_5xx_through_the_server(kernel: KernelProcess, webhook: TokenWebhook) -> None:
    webhook.server.fail_next(500, times=2)
    assert whoami(kernel, "t-alice")["status"]["userInfo"]["username"] == "alice"
    assert webhook.calls("t-alice") == 3


def test_v1_on_request(tmp_path: Path, webhook: TokenWebhook) -> None:
    config = webhook.write_kubeconfig(tmp_path / "authn.kubeconfig")
    kernel = start_kernel(tmp_path / "k", PLUGINS, f"--authentication-token-webhook-config-file={config}",
                          "--authentication-token-webhook-version=v1")
    try:
        assert whoami(kernel, "t-alice")["status"]["userInfo"]["username"] == "alice"
        assert webhook.reviews[-1]["apiVersion"] == "authentication.k8s.io/v1"
    finally:
        kernel.stop()


def serve_errors(tmp_path: Path, *args: str) -> str:
    result = subprocess.run([KERNEL, "serve", "--secure-port=0", f"--cert-dir={tmp_path / 'certs'}",
                             PLUGINS, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result
    return result.stderr


def test_bad_flags_are_startup_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.kubeconfig"
    (tmp_path / "bad.kubeconfig").write_text(json.dumps({"clusters": [{"name": "c", "cluster": {
        "server": "ftp://hook"}}], "users": [{"name": "u", "user": {}}]}))
    errors = serve_errors(tmp_path, f"--authentication-token-webhook-config-file={missing}",
                          "--authentication-token-webhook-version=v2")
    assert f"--authentication-token-webhook-config-file: {missing}: No such file or directory" in errors
    assert ('--authentication-token-webhook-version: unsupported authentication webhook version "v2", '
            'supported versions are "v1", "v1beta1"') in errors
    errors = serve_errors(tmp_path, f"--authentication-token-webhook-config-file={tmp_path / 'bad.kubeconfig'}")
    assert 'cluster server "ftp://hook" is not an https:// URL' in errors
    errors = serve_errors(tmp_path, "--authentication-token-webhook-cache-ttl=-1s")
    assert "--authentication-token-webhook-cache-ttl" in errors
