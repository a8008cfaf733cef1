"""The kernel's authenticator contract suite against the bootstrap token authenticator: in process
over fixed secrets, and through ``kernel serve`` with the secrets created through the API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from collections.abc import Sequence

import pytest

from kernel.testing import start_kernel
from kernel.testing.contracts import AuthenticatorContract, Credential
from kernel_authn_bootstrap.authenticator import BootstrapTokenAuthenticator
from kernel_authn_bootstrap.testing import StaticSecrets, token_secret

JANE, BOB = ("aaaaaa", "0123456789abcdef"), ("bbbbbb", "fedcba9876543210")
SECRETS = [token_secret(*JANE), token_secret(*BOB)]


def bearer(token_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_id}.{secret}"}


class TestBootstrapContract(AuthenticatorContract):
    plugin = "authn_bootstrap"

    @pytest.fixture
    def authenticator(self) -> BootstrapTokenAuthenticator:
        return BootstrapTokenAuthenticator(StaticSecrets(*SECRETS))

    @pytest.fixture
    def credentials(self) -> list[Credential]:
        return [Credential("system:bootstrap:aaaaaa", bearer(*JANE)),
                Credential("system:bootstrap:bbbbbb", bearer(*BOB))]

    @pytest.fixture
    def bad_credential(self) -> Credential:
        return Credential(headers=bearer(JANE[0], BOB[1]))

    @pytest.fixture
    def kernel_args(self) -> list[str]:
        return ["--enable-bootstrap-token-auth"]

    @pytest.fixture
    def contract_kernel(self, tmp_path: Path, kernel_args: Sequence[str]):
        """The suite's server, with api_core for the secrets, and the secrets created."""
        kernel = start_kernel(tmp_path / "contract-kernel",
                              "--plugins=api_core,api_authentication,storage_memory,authn_bootstrap",
                              "--anonymous-auth=true", "--authorization-mode=AlwaysAllow", *kernel_args)
        kernel.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                              "items": SECRETS}))
        deadline = time.monotonic() + 10
        with kernel.client(token=f"{BOB[0]}.{BOB[1]}") as client:
            while client.get("/api").status_code != 200:
                assert time.monotonic() < deadline, kernel.log()
                time.sleep(0.05)
        yield kernel
        kernel.stop()
