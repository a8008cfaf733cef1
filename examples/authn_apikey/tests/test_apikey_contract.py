"""The kernel's authenticator contract suite against the API-key authenticator."""

from __future__ import annotations

import pytest

from kernel.testing.contracts import AuthenticatorContract, Credential

pytest.importorskip("kernel_authn_apikey", reason="the example is tested installed: .ci/run pip-installs it")

from kernel_authn_apikey.keyfile import ApiKeyAuthenticator, parse

KEYS = "key-jane-0123456789,jane,dev|ops\nkey-bob-9876543210,bob\n"


class TestApiKeyContract(AuthenticatorContract):
    plugin = "authn_apikey"

    @pytest.fixture
    def authenticator(self) -> ApiKeyAuthenticator:
        return ApiKeyAuthenticator(parse(KEYS, "keys"))

    @pytest.fixture
    def credentials(self) -> list[Credential]:
        return [Credential("jane", {"X-Api-Key": "key-jane-0123456789"}),
                Credential("bob", {"X-Api-Key": "key-bob-9876543210"})]

    @pytest.fixture
    def bad_credential(self) -> Credential:
        return Credential(headers={"X-Api-Key": "key-mallory-000000"})

    @pytest.fixture
    def kernel_args(self, tmp_path) -> list[str]:
        (tmp_path / "keys").write_text(KEYS)
        return [f"--apikey-file={tmp_path / 'keys'}"]
