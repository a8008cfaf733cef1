"""The kernel's authenticator contract suite against --token-auth-file."""

from __future__ import annotations

import pytest

from kernel.testing.contracts import AuthenticatorContract, Credential
from kernel_authn_token.tokenfile import TokenFileAuthenticator, parse

CSV = "secret-jane,jane,uid-1,dev\nsecret-bob,bob,uid-2\n"


class TestTokenFileContract(AuthenticatorContract):
    plugin = "authn_token"

    @pytest.fixture
    def authenticator(self) -> TokenFileAuthenticator:
        return TokenFileAuthenticator(parse(CSV, "tokens.csv"))

    @pytest.fixture
    def credentials(self) -> list[Credential]:
        return [Credential("jane", {"Authorization": "Bearer secret-jane"}),
                Credential("bob", {"Authorization": "Bearer secret-bob"})]

    @pytest.fixture
    def bad_credential(self) -> Credential:
        return Credential(headers={"Authorization": "Bearer secret-mallory"})

    @pytest.fixture
    def kernel_args(self, tmp_path) -> list[str]:
        (tmp_path / "tokens.csv").write_text(CSV)
        return [f"--token-auth-file={tmp_path / 'tokens.csv'}"]
