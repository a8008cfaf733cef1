"""The webhook's kubeconfig: which cluster and user are used, relative paths, bad files; and that
the webhook's serving certificate is really verified."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from kernel.authorization import AuthorizationError, Decision
from kernel.server.authorizationconfig import WebhookConfiguration
from kernel.testing.authorizer import resource
from kernel_webhook.kubeconfig import KubeconfigError, load
from kernel_authz_webhook.plugin import build
from kernel_authz_webhook.testing import LocalWebhook, by_user


@pytest.fixture
def webhook() -> Iterator[LocalWebhook]:
    with LocalWebhook() as hook:
        hook.decide = by_user
        yield hook


def write(path: Path, document: dict) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def test_the_current_context_picks_cluster_and_user(tmp_path: Path, webhook: LocalWebhook) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.crt").write_text(Path(webhook.ca_file).read_text())
    (tmp_path / "token").write_text("from-a-file\n")
    path = write(tmp_path / "kubeconfig", {
        "current-context": "b",
        "clusters": [{"name": "a", "cluster": {"server": "https://a.invalid"}},
                     {"name": "b", "cluster": {"server": webhook.url, "certificate-authority": "certs/ca.crt"}}],
        "users": [{"name": "u", "user": {"token": "inline"}}, {"name": "v", "user": {"tokenFile": "token"}}],
        "contexts": [{"name": "a", "context": {"cluster": "a", "user": "u"}},
                     {"name": "b", "context": {"cluster": "b", "user": "v"}}]})
    config = load(path)
    assert (config.server, config.token) == (webhook.url, "from-a-file")
    assert config.ca_pem == Path(webhook.ca_file).read_text()  # relative to the kubeconfig


def test_without_a_current_context_the_only_cluster_is_used(tmp_path: Path, webhook: LocalWebhook) -> None:
    ca = base64.b64encode(Path(webhook.ca_file).read_bytes()).decode()
    path = write(tmp_path / "kubeconfig", {"clusters": [{"name": "only", "cluster": {
        "server": webhook.url, "certificate-authority-data": ca}}]})
    assert load(path).server == webhook.url


@pytest.mark.parametrize(("document", "message"), [
    ({"current-context": "x", "contexts": []}, 'context "x" not found'),
    ({"clusters": [{"name": "c", "cluster": {"server": "https://a"}}, {"name": "d", "cluster": {}}]},
     "no current-context and 2 clusters"),
    ({"clusters": [{"name": "c", "cluster": {"server": "https://a", "certificate-authority": "missing.crt"}}]},
     "certificate-authority: "),
    ({"clusters": [{"name": "c", "cluster": {"server": "https://a"}}],
      "users": [{"name": "u", "user": {"client-certificate-data": "eA=="}}]},
     "client-certificate and client-key must be given together"),
    ({"clusters": [{"name": "c", "cluster": {"server": "https://a", "certificate-authority-data": "bm90IGEgY2E="}}]},
     "TLS configuration: "),
], ids=["unknown-context", "ambiguous", "missing-ca", "cert-without-key", "bad-ca"])
def test_bad_kubeconfigs_say_why(tmp_path: Path, document: dict, message: str) -> None:
    with pytest.raises(KubeconfigError, match=message.replace("(", r"\(")):
        load(write(tmp_path / "kubeconfig", document))


@pytest.mark.trio
async def test_the_webhook_certificate_is_verified(tmp_path: Path, webhook: LocalWebhook) -> None:
    hook = WebhookConfiguration(timeout=10, subject_access_review_version="v1", failure_policy="Deny",
                                connection_type="KubeConfigFile",
                                kubeconfig_file=webhook.write_kubeconfig(tmp_path / "no-ca", ca=False))
    untrusted = build("untrusted", hook)
    insecure_path = write(tmp_path / "insecure", {"clusters": [{"name": "c", "cluster": {
        "server": webhook.url, "insecure-skip-tls-verify": True}}]})
    insecure = build("insecure", msgspec.structs.replace(hook, kubeconfig_file=insecure_path))
    try:
        with pytest.raises(AuthorizationError) as failed:
            await untrusted.authorize(resource("alice", "get", "pods"))
        assert failed.value.decision is Decision.DENY and "CERTIFICATE_VERIFY_FAILED" in str(failed.value)
        assert webhook.reviews == []
        assert (await insecure.authorize(resource("alice", "get", "pods")))[0] is Decision.ALLOW
    finally:
        await untrusted.aclose()
        await insecure.aclose()
