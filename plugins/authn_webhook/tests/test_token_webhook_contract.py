"""The kernel's authenticator contract suite against the webhook token authenticator and a real
local TokenReview webhook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.testing.contracts import AuthenticatorContract, Credential
from kernel_authn_webhook.authenticator import WebhookTokenAuthenticator
from kernel_authn_webhook.testing import TokenWebhook
from kernel_webhook.generic import GenericWebhook


class TestWebhookContract(AuthenticatorContract):
    plugin = "authn_webhook"

    @pytest.fixture
    def webhook(self) -> Iterator[TokenWebhook]:
        with TokenWebhook({"t-jane": {"username": "jane"}, "t-bob": {"username": "bob"}}) as hook:
            yield hook

    @pytest.fixture
    async def authenticator(self, tmp_path: Path, webhook: TokenWebhook):
        config = webhook.write_kubeconfig(tmp_path / "hook.kubeconfig")
        authenticator = WebhookTokenAuthenticator(GenericWebhook.from_file(config), "v1", 120.0)
        yield authenticator
        await authenticator.aclose()

    @pytest.fixture
    def credentials(self) -> list[Credential]:
        return [Credential("jane", {"Authorization": "Bearer t-jane"}),
                Credential("bob", {"Authorization": "Bearer t-bob"})]

    @pytest.fixture
    def bad_credential(self) -> Credential:
        return Credential(headers={"Authorization": "Bearer t-mallory"})

    @pytest.fixture
    def kernel_args(self, tmp_path: Path, webhook: TokenWebhook) -> list[str]:
        return [f"--authentication-token-webhook-config-file={webhook.write_kubeconfig(tmp_path / 'k.kubeconfig')}"]
