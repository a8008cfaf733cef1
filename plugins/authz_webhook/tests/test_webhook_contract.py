"""The kernel's authorizer contract suite against the Webhook mode and a real local webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kernel.authorization import Decision
from kernel.testing.authorizer import AuthorizerContract, Case, non_resource, resource
from kernel.server.authorizationconfig import WebhookConfiguration
from kernel_authz_webhook.authorizer import WebhookAuthorizer
from kernel_authz_webhook.plugin import build
from kernel_authz_webhook.testing import LocalWebhook, by_user


@pytest.fixture
def webhook() -> Iterator[LocalWebhook]:
    """A real local HTTPS webhook deciding by_user."""
    with LocalWebhook() as hook:
        hook.decide = by_user
        yield hook


class TestWebhookContract(AuthorizerContract):
    plugin, mode = "authz_webhook", "Webhook"

    @pytest.fixture
    async def authorizer(self, tmp_path: Path, webhook: LocalWebhook) -> AsyncIterator[WebhookAuthorizer]:
        kubeconfig = webhook.write_kubeconfig(tmp_path / "webhook.kubeconfig")
        authorizer = build("contract", WebhookConfiguration(
            timeout=10, subject_access_review_version="v1", failure_policy="NoOpinion",
            connection_type="KubeConfigFile", kubeconfig_file=kubeconfig))
        yield authorizer
        await authorizer.aclose()

    @pytest.fixture
    def cases(self) -> list[Case]:
        return [Case(resource("alice", "get", "pods", namespace="dev", name="p"), Decision.ALLOW),
                Case(resource("alice", "get", "pods", namespace="dev", name="p", subresource="log"),
                     Decision.ALLOW),
                Case(resource("bob", "list", "pods", namespace="dev"), Decision.DENY),
                Case(resource("carol", "create", "configmaps", namespace="dev"), Decision.NO_OPINION),
                Case(non_resource("alice", "get", "/metrics"), Decision.ALLOW),
                Case(non_resource("bob", "get", "/metrics"), Decision.DENY),
                Case(non_resource("carol", "get", "/version"), Decision.NO_OPINION)]

    @pytest.fixture
    def kernel_args(self, tmp_path: Path, webhook: LocalWebhook) -> list[str]:
        path = webhook.write_kubeconfig(tmp_path / "server-webhook.kubeconfig")
        return [f"--authorization-webhook-config-file={path}"]
