"""The kernel's authenticator contract suite against --oidc-* (a real local issuer)."""

from __future__ import annotations

import pytest

from kernel.testing.contracts import AuthenticatorContract, Credential
from kernel_authn_oidc.authenticator import OIDCAuthenticator
from kernel_authn_oidc.config import AuthenticationConfig, JWTAuthenticator, PrefixedClaim
from kernel_authn_oidc.testing import LocalIssuer

AUDIENCE = "kubernetes"


@pytest.fixture
def issuer():
    with LocalIssuer() as issuer:
        issuer.add_key("RS256")
        yield issuer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestOIDCContract(AuthenticatorContract):
    plugin = "authn_oidc"

    @pytest.fixture
    def authenticator(self, issuer: LocalIssuer) -> OIDCAuthenticator:
        jwt = JWTAuthenticator(url=issuer.url, audiences=(AUDIENCE,),
                               username=PrefixedClaim("sub", "oidc:"),
                               certificate_authority=issuer.ca_pem)
        return OIDCAuthenticator(AuthenticationConfig((jwt,), ("RS256",)))

    @pytest.fixture
    def credentials(self, issuer: LocalIssuer) -> list[Credential]:
        return [Credential(f"oidc:{sub}", bearer(issuer.token(sub=sub, aud=AUDIENCE)))
                for sub in ("jane", "bob")]

    @pytest.fixture
    def bad_credential(self, issuer: LocalIssuer) -> Credential:
        return Credential(headers=bearer(issuer.token(sub="jane", aud="elsewhere")))

    @pytest.fixture
    def kernel_args(self, tmp_path, issuer: LocalIssuer) -> list[str]:
        (tmp_path / "issuer-ca.crt").write_text(issuer.ca_pem)
        return [f"--oidc-issuer-url={issuer.url}", f"--oidc-client-id={AUDIENCE}",
                f"--oidc-ca-file={tmp_path / 'issuer-ca.crt'}", "--oidc-username-prefix=oidc:"]
