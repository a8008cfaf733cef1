"""The request-header authenticator: what it believes, from whom, and what it leaves behind."""

from __future__ import annotations

import datetime

import pytest

from kernel.authentication import AuthenticationError
from kernel.testing import start_kernel
from kernel.testing.contracts import Credential
from kernel_authn_requestheader.authenticator import RequestHeaderAuthenticator, unescape_extra_key
from kernel_authn_x509.testing import CertificateAuthority

FRONT_PROXY_CA = CertificateAuthority("front-proxy-ca")
USER_CA = CertificateAuthority("user-ca")
HEADERS = (["X-Remote-User", "X-Other-User"], ["X-Remote-Group"], ["X-Remote-Extra-"])


def _request(tmp_path, issued, headers):
    cert = issued.write(tmp_path, "client") if issued is not None else None
    request = Credential(headers={}, client_cert=cert).request()
    request.scope["headers"] = [(k.lower().encode(), v.encode()) for k, v in headers]
    return request


async def test_user_groups_and_extra_from_headers_then_removed(tmp_path) -> None:
    authenticator = RequestHeaderAuthenticator([FRONT_PROXY_CA.cert], [], *HEADERS)
    request = _request(tmp_path, FRONT_PROXY_CA.issue("any-proxy"), [
        ("X-Remote-User", ""), ("X-Other-User", "jane"), ("X-Remote-Group", "dev"),
        ("X-Remote-Group", "ops,qa"), ("X-Remote-Extra-Scopes", "a"), ("X-Remote-Extra-scopes", "b"),
        ("X-Remote-Extra-Example.com%2fTeam%20Name", "blue"), ("Accept", "application/json")])
    user = await authenticator.authenticate(request)
    assert user is not None
    assert (user.name, list(user.groups)) == ("jane", ["dev", "ops,qa"])
    assert {k: list(v) for k, v in user.extra.items()} == {"scopes": ["a", "b"],
                                                           "example.com/team name": ["blue"]}
    assert [k for k, _ in request.scope["headers"]] == [b"accept"]
    assert "x-remote-group" not in request.headers


async def test_headers_without_a_client_certificate_are_ignored(tmp_path) -> None:
    authenticator = RequestHeaderAuthenticator([FRONT_PROXY_CA.cert], [], *HEADERS)
    assert await authenticator.authenticate(_request(tmp_path, None, [("X-Remote-User", "root")])) is None


@pytest.mark.parametrize("issued, message", [
    (USER_CA.issue("front-proxy-client"), "unknown authority"),
    (FRONT_PROXY_CA.issue("intruder"), "cn=intruder is not in the allowed list"),
    (FRONT_PROXY_CA.issue("front-proxy-client", expires_in=-datetime.timedelta(minutes=1)), "expired"),
])
async def test_untrusted_proxies_are_refused(tmp_path, issued, message) -> None:
    authenticator = RequestHeaderAuthenticator([FRONT_PROXY_CA.cert], ["front-proxy-client"], *HEADERS)
    with pytest.raises(AuthenticationError, match=message):
        await authenticator.authenticate(_request(tmp_path, issued, [("X-Remote-User", "root")]))


def test_extra_keys_that_do_not_decode_stay_as_they_came() -> None:
    assert unescape_extra_key("a%2Fb") == "a/b"
    assert unescape_extra_key("bad%ffkey") == "bad%ffkey"


async def test_a_user_certificate_cannot_claim_header_identities(tmp_path) -> None:
    """--client-ca-file users authenticate as themselves; only the front-proxy CA may speak for others."""
    (tmp_path / "proxy-ca.crt").write_bytes(FRONT_PROXY_CA.cert_pem)
    (tmp_path / "user-ca.crt").write_bytes(USER_CA.cert_pem)
    kernel = start_kernel(tmp_path / "kernel", "--plugins=api_authentication,storage_memory,"
                          "authn_requestheader,authn_x509", "--authorization-mode=AlwaysAllow",
                          f"--requestheader-client-ca-file={tmp_path / 'proxy-ca.crt'}",
                          f"--client-ca-file={tmp_path / 'user-ca.crt'}")
    try:
        claims = {"X-Remote-User": "admin-claimed", "X-Remote-Group": "system:masters"}
        user = Credential(headers=claims, client_cert=USER_CA.issue("alice").write(tmp_path, "alice"))
        proxy = Credential(headers=claims, client_cert=FRONT_PROXY_CA.issue("proxy").write(tmp_path, "p"))
        seen = []
        for credential in (user, proxy):
            async with credential.client(kernel) as client:
                response = await client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                             json={"apiVersion": "authentication.k8s.io/v1",
                                                   "kind": "SelfSubjectReview"})
                assert response.status_code == 201, response.text
                info = response.json()["status"]["userInfo"]
                seen.append((info["username"], "system:masters" in info.get("groups", [])))
        assert seen == [("alice", False), ("admin-claimed", True)]
    finally:
        kernel.stop()


def test_a_changed_ca_file_is_trusted_without_restart(tmp_path) -> None:
    import ssl
    import time

    import httpx

    ca_file = tmp_path / "proxy-ca.crt"
    ca_file.write_bytes(FRONT_PROXY_CA.cert_pem)
    new_ca = CertificateAuthority("front-proxy-ca-2")
    kernel = start_kernel(tmp_path / "kernel", "--plugins=api_authentication,storage_memory,"
                          "authn_requestheader", "--authorization-mode=AlwaysAllow",
                          f"--requestheader-client-ca-file={ca_file}")
    cert = new_ca.issue("proxy").write(tmp_path, "new-proxy")

    def whoami() -> str:
        context = ssl.create_default_context(cafile=kernel.ca_file)
        context.load_cert_chain(*cert)
        try:
            with httpx.Client(base_url=kernel.url, verify=context,
                              headers={"X-Remote-User": "carol"}) as client:
                response = client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                       json={"apiVersion": "authentication.k8s.io/v1",
                                             "kind": "SelfSubjectReview"})
        except (httpx.HTTPError, ssl.SSLError):
            return "refused"  # the handshake does not accept the new CA yet
        return response.json()["status"]["userInfo"]["username"] if response.status_code == 201 else "401"

    try:
        assert whoami() == "refused"
        ca_file.write_bytes(new_ca.cert_pem)
        deadline = time.monotonic() + 30
        while (seen := whoami()) != "carol":
            assert time.monotonic() < deadline, seen
            time.sleep(0.05)
    finally:
        kernel.stop()
