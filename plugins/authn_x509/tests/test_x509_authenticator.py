"""The x509 authenticator and its flag, with real CAs and certificates (kernel_authn_x509.testing)."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

import kernel_authn_x509
from kernel.authentication import AuthenticationError
from kernel.server.options import OptionSet, parse
from kernel.endpoints.request import Request
from kernel_authn_x509.authenticator import CREDENTIAL_ID, X509Authenticator, load_bundle
from kernel_authn_x509.testing import DAY, CertificateAuthority

CA = CertificateAuthority("client-ca")
OTHER = CertificateAuthority("other-ca")


def request_with(*pems: bytes) -> Request:
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": [],
             "extensions": {"tls": {"client_cert_chain": [p.decode() for p in pems]}}}
    return Request(scope, None, None)  # type: ignore[arg-type]


def authenticator(*cas: CertificateAuthority) -> X509Authenticator:
    return X509Authenticator([ca.cert for ca in cas or (CA,)])


async def test_common_name_is_the_user_and_organizations_the_groups() -> None:
    jane = CA.issue("jane", ["dev", "ops"])
    user = await authenticator().authenticate(request_with(jane.cert_pem))
    fingerprint = hashlib.sha256(jane.cert.public_bytes(Encoding.DER)).hexdigest()
    assert (user.name, user.uid, list(user.groups)) == ("jane", "", ["dev", "ops"])
    assert user.extra == {CREDENTIAL_ID: [f"X509SHA256={fingerprint}"]}


async def test_no_certificate_and_no_common_name_are_not_ours() -> None:
    assert await authenticator().authenticate(request_with()) is None
    assert await authenticator().authenticate(request_with(CA.issue("", ["dev"]).cert_pem)) is None


@pytest.mark.parametrize("usages", [None, [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE],
                                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]],
                         ids=["no-eku", "any-eku", "server-and-client"])
async def test_usages_that_allow_client_auth(usages) -> None:
    cert = CA.issue("jane", usages=usages)
    assert (await authenticator().authenticate(request_with(cert.cert_pem))).name == "jane"


@pytest.mark.parametrize("kwargs, message", [
    ({"expires_in": -datetime.timedelta(minutes=1)}, "certificate has expired or is not yet valid: current time"),
    ({"valid_from": DAY, "expires_in": 2 * DAY}, "is before"),
    ({"usages": [ExtendedKeyUsageOID.SERVER_AUTH]}, "certificate specifies an incompatible key usage"),
], ids=["expired", "not-yet-valid", "server-auth-only"])
async def test_invalid_certificates_are_rejected(kwargs, message) -> None:
    cert = CA.issue("jane", ["dev"], **kwargs)
    with pytest.raises(AuthenticationError, match=message) as raised:
        await authenticator().authenticate(request_with(cert.cert_pem))
    assert str(raised.value).startswith(f"verifying certificate SN={cert.cert.serial_number}, ")


async def test_certificate_of_another_ca_is_rejected_and_roots_can_change() -> None:
    stranger = OTHER.issue("mallory")
    auth = authenticator()
    with pytest.raises(AuthenticationError, match="certificate signed by unknown authority"):
        await auth.authenticate(request_with(stranger.cert_pem))
    auth.set_roots([OTHER.cert])  # a reload: the verification cache is dropped too
    assert (await auth.authenticate(request_with(stranger.cert_pem))).name == "mallory"
    with pytest.raises(AuthenticationError, match="unknown authority"):
        await auth.authenticate(request_with(CA.issue("jane").cert_pem))


async def test_an_expired_ca_fails_its_certificates() -> None:
    young = CertificateAuthority("short-lived", valid_for=datetime.timedelta(seconds=-1))
    with pytest.raises(AuthenticationError, match="expired or is not yet valid"):
        await authenticator(young).authenticate(request_with(young.issue("jane").cert_pem))


async def test_presented_intermediates_are_followed_and_must_be_cas() -> None:
    intermediate_ca = CertificateAuthority("intermediate")
    # re-issue the intermediate CA's certificate from the root, with CA:true
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    now = datetime.datetime.now(datetime.timezone.utc)
    inter_cert = (x509.CertificateBuilder().subject_name(intermediate_ca.cert.subject)
                  .issuer_name(CA.cert.subject).public_key(intermediate_ca.key.public_key())
                  .serial_number(x509.random_serial_number())
                  .not_valid_before(now - DAY).not_valid_after(now + DAY)
                  .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                  .sign(CA.key, hashes.SHA256()))
    leaf = intermediate_ca.issue("deep", ["g"])
    inter_pem = inter_cert.public_bytes(Encoding.PEM)
    assert (await authenticator().authenticate(request_with(leaf.cert_pem, inter_pem))).name == "deep"
    with pytest.raises(AuthenticationError, match="unknown authority"):  # without the intermediate
        await authenticator().authenticate(request_with(leaf.cert_pem))


def test_bundle_loading() -> None:
    assert load_bundle(CA.cert_pem + OTHER.cert_pem, "f") == [CA.cert, OTHER.cert]
    with pytest.raises(ValueError, match="f: no PEM certificate found"):
        load_bundle(b"not a certificate", "f")


def _options(*argv: str):
    option_set = OptionSet()
    kernel_authn_x509.kernel_add_options(option_set.for_plugin("authn_x509"))
    return parse(option_set, list(argv)).options


def test_flag_validation_and_completion(tmp_path) -> None:
    assert kernel_authn_x509.kernel_validate_options(_options()) == []
    missing = _options(f"--client-ca-file={tmp_path / 'nope.crt'}")
    assert kernel_authn_x509.kernel_validate_options(missing) == [
        f"--client-ca-file: {tmp_path / 'nope.crt'}: No such file or directory"]
    junk = tmp_path / "junk.crt"
    junk.write_text("hello")
    assert kernel_authn_x509.kernel_validate_options(_options(f"--client-ca-file={junk}")) == [
        f"--client-ca-file: {junk}: no PEM certificate found"]
    good = tmp_path / "ca.crt"
    good.write_bytes(CA.cert_pem)
    options = _options(f"--client-ca-file={good}")
    assert kernel_authn_x509.kernel_validate_options(options) == []
    kernel_authn_x509.kernel_complete_options(options)
    assert options.client_ca_files == [str(good)]
