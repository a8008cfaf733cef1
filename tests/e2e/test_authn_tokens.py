"""Bearer tokens end to end: OIDC against a real local issuer, the static token file, the chain
order chosen by --plugins, TokenReview, and --anonymous-auth=false."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest
import yaml
from authn_helpers import KUBECTL, kubectl, review_user, tls_client, whoami, write_kubeconfig

from kernel_authn_oidc.testing import LocalIssuer, free_port

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")

AUDIENCE = "kubernetes"
TOKENS_CSV = 'file-secret,fiona,uid-f,"readers,writers"\nmaster-secret,root,uid-r,system:masters\n'


@pytest.fixture
def issuer():
    with LocalIssuer() as issuer:
        issuer.add_key("RS256")
        issuer.add_key("ES256")
        yield issuer


def test_oidc_flags_kubectl_rejections_and_key_rotation(kernel_process, issuer, tmp_path: Path) -> None:
    kernel = kernel_process(
        "--plugins=storage_memory,api_authentication,authn_oidc",
        f"--oidc-issuer-url={issuer.url}", f"--oidc-client-id={AUDIENCE}",
        f"--oidc-ca-file={issuer.ca_file}", "--oidc-username-claim=email",
        "--oidc-groups-claim=groups", "--oidc-groups-prefix=oidc:", "--oidc-signing-algs=RS256,ES256")
    rs256, es256 = issuer.published
    token = issuer.token(rs256, sub="u1", email="jane@example.com", email_verified=True,
                         aud=AUDIENCE, groups=["dev"])
    config = write_kubeconfig(tmp_path / "kubeconfig", kernel.url, kernel.ca_file, token=token)
    table = kubectl(config, tmp_path / "home", "auth", "whoami")
    assert table.returncode == 0, table.stderr + kernel.log()
    assert "jane@example.com" in table.stdout and "[oidc:dev system:authenticated]" in table.stdout

    def status(token: str) -> int:
        with tls_client(kernel.url, kernel.ca_file, token=token) as client:
            return review_user(client).status_code

    now = int(time.time())
    claims = {"email": "es@example.com", "aud": AUDIENCE}
    assert status(issuer.token(es256, **claims)) == 201
    forged = issuer.token(es256, **claims)[:-8] + "AAAAAAAA"
    bad = {
        "wrong audience": issuer.token(rs256, email="j@x", aud="someone-else"),
        "wrong issuer": issuer.token(rs256, email="j@x", aud=AUDIENCE, iss="https://evil.example"),
        "expired": issuer.token(rs256, email="j@x", aud=AUDIENCE, iat=now - 900, exp=now - 300),
        "bad signature": forged,
        "alg none": issuer.unsigned_token(iss=issuer.url, email="j@x", aud=AUDIENCE, exp=now + 60),
        "email not verified": issuer.token(rs256, email="j@x", email_verified=False, aud=AUDIENCE),
    }
    for case, token in bad.items():
        assert status(token) == 401, case
    result = kubectl(write_kubeconfig(tmp_path / "expired", kernel.url, kernel.ca_file,
                                      token=bad["expired"]), tmp_path / "home2", "auth", "whoami")
    assert result.returncode != 0 and "Unauthorized" in result.stderr

    # Rotation without restart: a token signed by a key published after start is accepted once
    # the server refetches the keys for the unknown kid (at most once a second).
    new_kid = issuer.rotate("ES256")
    time.sleep(1.1)
    assert status(issuer.token(new_kid, **claims)) == 201
    assert status(issuer.token(rs256, **claims)) == 401  # withdrawn by the rotation


def _authentication_config(issuer: LocalIssuer, prefix: str) -> str:
    return yaml.safe_dump({
        "apiVersion": "apiserver.config.k8s.io/v1beta1", "kind": "AuthenticationConfiguration",
        "jwt": [{"issuer": {"url": issuer.url, "audiences": [AUDIENCE, "other"],
                            "audienceMatchPolicy": "MatchAny", "certificateAuthority": issuer.ca_pem},
                 "claimValidationRules": [{"claim": "tier", "requiredValue": "gold"}],
                 "claimMappings": {"username": {"claim": "sub", "prefix": prefix},
                                   "groups": {"claim": "roles", "prefix": ""},
                                   "uid": {"claim": "uid"}}}]})


def test_authentication_config_unreachable_issuer_and_reload(kernel_process, tmp_path: Path) -> None:
    issuer = LocalIssuer(port=free_port())  # not listening yet
    kid = issuer.add_key("RS256")
    config_file = tmp_path / "authn.yaml"
    config_file.write_text(_authentication_config(issuer, "first:"))
    kernel = kernel_process("--plugins=storage_memory,api_authentication,authn_oidc",
                            f"--authentication-config={config_file}", "--anonymous-auth=false")
    token = issuer.token(kid, sub="sam", uid="u-9", roles="admins", tier="gold", aud="other")
    with tls_client(kernel.url, kernel.ca_file, token=token) as client:
        assert review_user(client).status_code == 401  # the server started; the issuer is down
        with issuer:
            time.sleep(1.1)  # on-demand fetches are at most once a second
            response = review_user(client)
            assert response.status_code == 201, kernel.log()
            assert response.json()["status"]["userInfo"] == {
                "username": "first:sam", "uid": "u-9", "groups": ["admins", "system:authenticated"]}
            silver = issuer.token(kid, sub="sam", uid="u-9", tier="silver", aud="other")
            with tls_client(kernel.url, kernel.ca_file, token=silver) as other:
                assert review_user(other).status_code == 401  # claimValidationRules: tier=gold

            config_file.write_text(_authentication_config(issuer, "second:"))
            deadline = time.monotonic() + 8
            while review_user(client).json()["status"]["userInfo"]["username"] != "second:sam":
                assert time.monotonic() < deadline, kernel.log()
                time.sleep(0.1)
            config_file.write_text("jwt: [{issuer: {url: http://nope}}]")  # invalid: kept out
            time.sleep(1.5)
            assert review_user(client).json()["status"]["userInfo"]["username"] == "second:sam"
    assert "not reloaded" in kernel.log()


def test_token_file_kubectl_tokenreview_and_create_f(kernel_process, issuer, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(TOKENS_CSV)
    kernel = kernel_process("--plugins=storage_memory,api_authentication,authn_token",
                            f"--token-auth-file={tokens}",
                            "--api-audiences=https://kubernetes.default.svc,api")
    fiona = write_kubeconfig(tmp_path / "fiona", kernel.url, kernel.ca_file, token="file-secret")
    info = whoami(fiona, tmp_path / "home-fiona")
    assert info == {"username": "fiona", "uid": "uid-f",
                    "groups": ["readers", "writers", "system:authenticated"]}

    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": "file-secret"}}
    path = "/apis/authentication.k8s.io/v1/tokenreviews"
    with tls_client(kernel.url, kernel.ca_file, token="master-secret") as client:
        ok = client.post(path, json=review)
        assert ok.status_code == 201
        assert ok.json()["status"] == {
            "authenticated": True, "audiences": ["https://kubernetes.default.svc", "api"],
            "user": {"username": "fiona", "uid": "uid-f",
                     "groups": ["readers", "writers", "system:authenticated"]}}
        invalid = client.post(path, json={**review, "spec": {"token": "nope"}}).json()["status"]
        assert invalid == {"user": {}, "error": "invalid bearer token"}
        asked = client.post(path, json={**review, "spec": {"token": "file-secret",
                                                           "audiences": ["api", "vault"]}})
        assert asked.json()["status"]["audiences"] == ["api"]
        foreign = client.post(path, json={**review, "spec": {"token": "file-secret",
                                                             "audiences": ["vault"]}})
        assert foreign.json()["status"] == {"user": {}, "error": "invalid bearer token"}
        empty = client.post(path, json={**review, "spec": {}})
        assert (empty.status_code, empty.json()["message"]) == (
            400, "token is required for TokenReview in authentication")
        assert client.get(path).status_code == 405
        assert client.post("/apis/authentication.k8s.io/v1/namespaces/x/tokenreviews",
                           json=review).status_code == 404
        resources = client.get("/apis/authentication.k8s.io/v1").json()["resources"]
        assert [(r["name"], r["kind"], r["namespaced"], r["verbs"]) for r in resources] == [
            ("selfsubjectreviews", "SelfSubjectReview", False, ["create"]),
            ("tokenreviews", "TokenReview", False, ["create"])]

    # kubectl create -f finds the create-only kind through discovery. (--validate=false: for a kind
    # without PATCH kubectl's validation falls back to /openapi/v2 as protobuf, which is not served.)
    root = write_kubeconfig(tmp_path / "root", kernel.url, kernel.ca_file, token="master-secret")
    manifest = tmp_path / "review.yaml"
    manifest.write_text(yaml.safe_dump(review))
    created = kubectl(root, tmp_path / "home-root", "create", "-f", str(manifest), "-o", "json",
                      "--validate=false")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["status"]["user"]["username"] == "fiona"


async def test_tokenreview_needs_permission_to_create_tokenreviews(kernel_in_process,
                                                                   tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(TOKENS_CSV)
    kernel = await kernel_in_process("--plugins=storage_memory,api_authentication,authn_token",
                                     f"--token-auth-file={tokens}", "--authorization-mode=AlwaysDeny")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": "file-secret"}}
    path = "/apis/authentication.k8s.io/v1/tokenreviews"
    async with kernel.client(token="file-secret") as client:
        denied = await client.post(path, json=review)
    assert denied.status_code == 403
    assert denied.json()["message"] == (
        'tokenreviews.authentication.k8s.io is forbidden: User "fiona" cannot create resource '
        '"tokenreviews" in API group "authentication.k8s.io" at the cluster scope: Everything is forbidden.')
    async with kernel.client(token="master-secret") as client:  # system:masters
        allowed = await client.post(path, json=review)
    assert allowed.status_code == 201 and allowed.json()["status"]["authenticated"] is True


async def test_plugins_order_decides_which_authenticator_answers(kernel_in_process, issuer,
                                                                 tmp_path: Path) -> None:
    token = issuer.token(sub="from-oidc", aud=AUDIENCE)  # a JWT that is also in the token file
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(f"{token},from-file,uid-1\n")
    flags = (f"--token-auth-file={tokens}", f"--oidc-issuer-url={issuer.url}",
             f"--oidc-client-id={AUDIENCE}", f"--oidc-ca-file={issuer.ca_file}",
             "--oidc-username-prefix=-")
    users = []
    for order in ("authn_token,authn_oidc", "authn_oidc,authn_token"):
        kernel = await kernel_in_process(f"--plugins=storage_memory,api_authentication,{order}", *flags)
        assert kernel.server.authenticator.names[1:3] == (
            ["token-file", "oidc"] if order.startswith("authn_token") else ["oidc", "token-file"])
        async with kernel.client(token=token) as client:
            response = await client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                         json={"kind": "SelfSubjectReview",
                                               "apiVersion": "authentication.k8s.io/v1"})
        users.append(response.json()["status"]["userInfo"]["username"])
    assert users == ["from-file", "from-oidc"]


async def test_without_anonymous_every_path_needs_a_credential(kernel_in_process, issuer,
                                                               tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(TOKENS_CSV)
    ca_file = tmp_path / "ca.crt"
    from kernel_authn_x509.testing import CertificateAuthority
    ca_file.write_bytes(CertificateAuthority().cert_pem)
    kernel = await kernel_in_process(
        "--plugins=storage_memory,api_core,api_authentication,authn_x509,authn_oidc,authn_token",
        "--anonymous-auth=false", f"--client-ca-file={ca_file}", f"--token-auth-file={tokens}",
        f"--oidc-issuer-url={issuer.url}", f"--oidc-client-id={AUDIENCE}",
        f"--oidc-ca-file={issuer.ca_file}")
    paths = ["/", "/readyz", "/livez", "/healthz", "/healthz/ping", "/version", "/api", "/apis",
             "/api/v1", "/apis/authentication.k8s.io/v1", "/openapi/v3", "/openapi/v2",
             "/api/v1/namespaces", "/api/v1/namespaces/default/configmaps", "/metrics", "/nope"]
    expired = issuer.token(sub="x", aud=AUDIENCE, iat=int(time.time()) - 900, exp=int(time.time()) - 300)
    for token in (None, "not-a-known-token", expired):
        async with kernel.client(token=token) as client:
            for path in paths:
                assert (await client.get(path)).status_code == 401, (token, path)
            assert (await review_user_async(client)).status_code == 401
    async with kernel.client(token="file-secret") as client:
        assert (await client.get("/readyz")).status_code == 200
        assert (await review_user_async(client)).status_code == 201


async def review_user_async(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                             json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
