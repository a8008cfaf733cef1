"""The kernel's authenticator contract suite against --client-ca-file (real CA, real TLS)."""

from __future__ import annotations

import datetime

import pytest

from kernel.testing.contracts import AuthenticatorContract, Credential
from kernel_authn_x509.authenticator import X509Authenticator
from kernel_authn_x509.testing import CertificateAuthority

CA = CertificateAuthority("contract-ca")


class TestX509Contract(AuthenticatorContract):
    plugin = "authn_x509"

    @pytest.fixture
    def authenticator(self) -> X509Authenticator:
        return X509Authenticator([CA.cert])

    @pytest.fixture
    def credentials(self, tmp_path) -> list[Credential]:
        return [Credential(name, client_cert=CA.issue(name, ["dev"]).write(tmp_path, name))
                for name in ("jane", "bob")]

    @pytest.fixture
    def bad_credential(self, tmp_path) -> Credential:
        # Signed by the CA, so the handshake accepts it; expired, so authentication must not.
        expired = CA.issue("jane", expires_in=-datetime.timedelta(minutes=1))
        return Credential(client_cert=expired.write(tmp_path, "expired"))

    @pytest.fixture
    def kernel_args(self, tmp_path) -> list[str]:
        (tmp_path / "ca.crt").write_bytes(CA.cert_pem)
        return [f"--client-ca-file={tmp_path / 'ca.crt'}"]
