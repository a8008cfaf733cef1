"""The --service-account-* flags: kube's validation messages, completion (issuer, audiences and
a generated key reused across restarts), and ECDSA plus extra verifying keys end to end."""

from __future__ import annotations

import subprocess
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kernel.testing import KERNEL, assemble, start_kernel

PLUGINS = "--plugins=api_core,storage_memory,authn_serviceaccount"


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KERNEL, "serve", "--secure-port=0", f"--cert-dir={tmp_path / 'certs'}",
                           PLUGINS, *args], capture_output=True, text=True, timeout=60)


def _write_key(path: Path, key, public: bool = False) -> str:
    if public:
        pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    else:
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path.write_bytes(pem)
    return str(path)


def test_bad_flags_get_kubes_messages_all_at_once(tmp_path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    result = _serve(tmp_path, "--service-account-issuer=https://a", "--service-account-issuer=https://a",
                    "--service-account-issuer=", "--service-account-max-token-expiration=10m",
                    "--service-account-jwks-uri=http://insecure/jwks",
                    f"--service-account-key-file={garbage}",
                    f"--service-account-signing-key-file={tmp_path / 'missing.key'}")
    assert result.returncode == 1
    for message in [
        '--service-account-issuer: service-account-issuer "https://a" is already specified',
        "--service-account-issuer: service-account-issuer should not be an empty string",
        "--service-account-max-token-expiration: the service-account-max-token-expiration must be "
        "between 1 hour and 2^32 seconds",
        "--service-account-jwks-uri: service-account-jwks-uri requires https scheme, parsed as: "
        "http://insecure/jwks",
        f"--service-account-key-file: failed to set up public service account keys: error reading "
        f"public key file {garbage}: data does not contain any valid RSA or ECDSA public keys",
        f"--service-account-signing-key-file: failed to parse service-account-issuer-key-file: "
        f"{tmp_path / 'missing.key'}: No such file or directory",
    ]:
        assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_completion_defaults_and_the_generated_key_is_reused(tmp_path) -> None:
    server = assemble(tmp_path, PLUGINS)
    options = server.context.options
    assert options.service_account_issuer == ["https://kubernetes.default.svc.cluster.local"]
    assert options.api_audiences == ["https://kubernetes.default.svc.cluster.local"]
    key_file = tmp_path / "certs" / "service-account.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    kid = options.service_account_keys.signing_kid
    again = assemble(tmp_path, PLUGINS, "--api-audiences=mine")
    assert again.context.options.service_account_keys.signing_kid == kid  # same key after a restart
    assert again.context.options.api_audiences == ["mine"]  # an explicit value is kept


def test_the_serving_key_signs_when_certificates_are_given(tmp_path) -> None:
    from kernel.server.certs import ensure_self_signed
    from kernel_authn_serviceaccount.keys import key_id, private_key_from_file

    serving = ensure_self_signed(str(tmp_path / "given"), "127.0.0.1")
    server = assemble(tmp_path, PLUGINS, f"--tls-cert-file={serving.cert_file}",
                      f"--tls-private-key-file={serving.key_file}")
    keys = server.context.options.service_account_keys
    assert keys.signing_kid == key_id(private_key_from_file(serving.key_file).public_key())
    assert not (tmp_path / "certs").exists()  # nothing written into --cert-dir


def test_ecdsa_signing_key_and_extra_verifying_keys(tmp_path) -> None:
    signing = ec.generate_private_key(ec.SECP256R1())
    retired = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kernel = start_kernel(
        tmp_path / "k", PLUGINS,
        f"--service-account-signing-key-file={_write_key(tmp_path / 'ec.key', signing)}",
        f"--service-account-key-file={_write_key(tmp_path / 'retired.pub', retired, public=True)}")
    try:
        token = kernel.kubectl("create", "token", "default").stdout.strip()
        assert jwt.get_unverified_header(token)["alg"] == "ES256"
        with kernel.client() as client:
            keys = client.get("/openid/v1/jwks").json()["keys"]
            config = client.get("/.well-known/openid-configuration").json()
            assert sorted(k["alg"] for k in keys) == ["ES256", "RS256"]
            assert config["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
            assert client.get("/api", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            # a token of the retired key still verifies (it is listed in --service-account-key-file)
            claims = jwt.decode(token, options={"verify_signature": False})
            old = jwt.encode(claims, retired, algorithm="RS256")
            assert client.get("/api", headers={"Authorization": f"Bearer {old}"}).status_code == 200
    finally:
        kernel.stop()


def test_an_issuer_that_is_not_an_https_url_signs_but_serves_no_discovery(tmp_path) -> None:
    kernel = start_kernel(tmp_path / "k", PLUGINS, "--service-account-issuer=my-cluster")
    try:
        token = kernel.kubectl("create", "token", "default").stdout.strip()
        assert jwt.decode(token, options={"verify_signature": False})["aud"] == ["my-cluster"]
        with kernel.client() as client:
            assert client.get("/api", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert client.get("/openid/v1/jwks").status_code == 404
            assert client.get("/.well-known/openid-configuration").status_code == 404
        assert "service account issuer discovery is disabled: issuer URL must use https scheme, " \
               "got: my-cluster" in kernel.log()
    finally:
        kernel.stop()
