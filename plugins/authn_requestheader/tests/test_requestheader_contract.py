"""The kernel's authenticator contract suite against --requestheader-client-ca-file (real CA, TLS)."""

from __future__ import annotations

import pytest

from kernel.testing.contracts import AuthenticatorContract, Credential
from kernel_authn_requestheader.authenticator import RequestHeaderAuthenticator
from kernel_authn_x509.testing import CertificateAuthority

CA = CertificateAuthority("front-proxy-ca")
HEADERS = (["X-Remote-User"], ["X-Remote-Group"], ["X-Remote-Extra-"])


class TestRequestHeaderContract(AuthenticatorContract):
    plugin = "authn_requestheader"

    @pytest.fixture
    def authenticator(self) -> RequestHeaderAuthenticator:
        return RequestHeaderAuthenticator([CA.cert], ["front-proxy-client"], *HEADERS)

    @pytest.fixture
    def credentials(self, tmp_path) -> list[Credential]:
        proxy = CA.issue("front-proxy-client").write(tmp_path, "proxy")
        return [Credential(name, headers={"X-Remote-User": name, "X-Remote-Group": f"team-{name}"},
                           client_cert=proxy) for name in ("jane-doe-7", "bob-roe-9")]

    @pytest.fixture
    def bad_credential(self, tmp_path) -> Credential:
        # Signed by the request-header CA, so the handshake accepts it; not an allowed name.
        other = CA.issue("someone-else").write(tmp_path, "other")
        return Credential(headers={"X-Remote-User": "mallory-3"}, client_cert=other)

    @pytest.fixture
    def kernel_args(self, tmp_path) -> list[str]:
        (tmp_path / "front-proxy-ca.crt").write_bytes(CA.cert_pem)
        return [f"--requestheader-client-ca-file={tmp_path / 'front-proxy-ca.crt'}",
                "--requestheader-allowed-names=front-proxy-client"]
