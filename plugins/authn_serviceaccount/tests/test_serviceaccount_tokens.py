"""ServiceAccount tokens end to end: a real kernel, real kubectl, PyJWT against the served JWKS,
RBAC applied to the service account, and a second kernel trusting this one as an OIDC issuer."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from kernel.testing import start_kernel
from kernel.testing.tls import free_port

AUDIENCE = "x"
API_AUDIENCES = "kernel-api,x"
PLUGINS = ("--plugins=api_core,api_rbac,authz_rbac,api_authentication,storage_memory,"
           "authn_serviceaccount")
SA_USER = "system:serviceaccount:default:default"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    port = free_port()
    kernel = start_kernel(tmp_path_factory.mktemp("sa"), PLUGINS, f"--secure-port={port}",
                          "--advertise-address=127.0.0.1",
                          f"--service-account-issuer=https://127.0.0.1:{port}",
                          "--service-account-issuer=https://old-issuer.example",
                          f"--api-audiences={API_AUDIENCES}")
    kernel.issuer = f"https://127.0.0.1:{port}"
    yield kernel
    kernel.stop()


def _token(kernel, *args: str) -> str:
    return kernel.kubectl("create", "token", "default", *args).stdout.strip()


def _whoami(kernel, token: str) -> dict:
    with kernel.client(token=token) as client:
        response = client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                               json={"apiVersion": "authentication.k8s.io/v1",
                                     "kind": "SelfSubjectReview"})
    assert response.status_code == 201, response.text
    return response.json()["status"]["userInfo"]


def _status(kernel, token: str, path: str = "/api/v1/namespaces/default/configmaps") -> int:
    with kernel.client(token=token) as client:
        return client.get(path).status_code


def _signing_key(kernel):
    pem = (Path(kernel.ca_file).parent / "service-account.key").read_bytes()
    return serialization.load_pem_private_key(pem, password=None)


def _kid(key) -> str:
    import hashlib
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def _sa_uid(kernel, name: str = "default") -> str:
    return kernel.kubectl_json("get", "serviceaccount", name)["metadata"]["uid"]


def _forge(kernel, *, issuer: str | None = None, exp_in: int = 600, **private) -> str:
    """A token signed with the kernel's own key, with claims of our choosing."""
    now = int(time.time())
    key = _signing_key(kernel)
    claims = {"iss": issuer or kernel.issuer, "sub": SA_USER, "aud": [AUDIENCE], "iat": now - 1000,
              "nbf": now - 1000, "exp": now + exp_in, "jti": str(uuid.uuid4()),
              "kubernetes.io": {"namespace": "default", "serviceaccount": {
                  "name": "default", "uid": _sa_uid(kernel)}, **private}}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": _kid(key)})


def _eventually_status(kernel, token: str, expected: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (code := _status(kernel, token, "/api")) != expected:
        assert time.monotonic() < deadline, f"still {code}, expected {expected}"
        time.sleep(0.05)


def test_kubectl_create_token_authenticates_as_the_service_account(kernel) -> None:
    token = _token(kernel, f"--audience={AUDIENCE}")
    user = _whoami(kernel, token)
    assert user["username"] == SA_USER
    assert user["uid"] == _sa_uid(kernel)
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default",
                              "system:authenticated"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert user["extra"] == {"authentication.kubernetes.io/credential-id": [f"JTI={claims['jti']}"]}
    assert claims["iss"] == kernel.issuer and claims["aud"] == [AUDIENCE]
    assert claims["exp"] - claims["iat"] == 3600  # the default expirationSeconds
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "default", "uid": _sa_uid(kernel)}
    # kubectl auth whoami with the token: the SelfSubjectReview of the same user
    out = kernel.kubectl("auth", "whoami", f"--token={token}", "-o", "json").stdout
    assert json.loads(out)["status"]["userInfo"]["username"] == SA_USER


def test_default_audiences_are_the_api_audiences(kernel) -> None:
    claims = jwt.decode(_token(kernel), options={"verify_signature": False})
    assert claims["aud"] == API_AUDIENCES.split(",")


def test_token_for_another_audience_is_refused(kernel) -> None:
    token = _token(kernel, "--audience=someone-else")
    assert _status(kernel, token, "/api") == 401


def test_expired_token_is_refused_within_leeway_accepted(kernel) -> None:
    assert _status(kernel, _forge(kernel, exp_in=-120), "/api") == 401
    assert _status(kernel, _forge(kernel, exp_in=-20), "/api") == 200  # go-jose's 1 minute leeway
    assert _status(kernel, _forge(kernel), "/api") == 200


def test_every_issuer_is_accepted_other_issuers_are_not_ours(kernel) -> None:
    assert _status(kernel, _forge(kernel, issuer="https://old-issuer.example"), "/api") == 200
    # an unknown issuer is no service account token: the chain finds no authenticator for it
    assert _status(kernel, _forge(kernel, issuer="https://elsewhere.example"), "/api") == 401


def test_token_signed_with_another_key_is_refused(kernel) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = jwt.decode(_forge(kernel), options={"verify_signature": False})
    forged = jwt.encode(good, other, algorithm="RS256", headers={"kid": _kid(_signing_key(kernel))})
    assert _status(kernel, forged, "/api") == 401


def _create_pod(kernel, name: str, **spec) -> dict:
    with kernel.client() as client:
        response = client.post("/api/v1/namespaces/default/pods", json={
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}})
    assert response.status_code == 201, response.text
    return response.json()


def test_pod_bound_token_stops_working_once_the_pod_is_deleted(kernel) -> None:
    pod = _create_pod(kernel, "bound", nodeName="node-1")
    assert pod["spec"]["serviceAccountName"] == "default"  # ServiceAccount admission
    assert pod["spec"]["volumes"][0]["name"].startswith("kube-api-access-")
    token = _token(kernel, f"--audience={AUDIENCE}", "--bound-object-kind=Pod",
                   "--bound-object-name=bound")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["kubernetes.io"]["pod"] == {"name": "bound", "uid": pod["metadata"]["uid"]}
    assert claims["kubernetes.io"]["node"] == {"name": "node-1", "uid": ""}  # no Node object
    extra = _whoami(kernel, token)["extra"]
    assert extra["authentication.kubernetes.io/pod-name"] == ["bound"]
    assert extra["authentication.kubernetes.io/pod-uid"] == [pod["metadata"]["uid"]]
    assert extra["authentication.kubernetes.io/node-name"] == ["node-1"]
    kernel.kubectl("delete", "pod", "bound", "--wait=false")
    _eventually_status(kernel, token, 401)


def test_secret_bound_token_stops_working_once_the_secret_is_deleted(kernel) -> None:
    kernel.kubectl("create", "secret", "generic", "bind-me", "--from-literal=a=b")
    token = _token(kernel, f"--audience={AUDIENCE}", "--bound-object-kind=Secret",
                   "--bound-object-name=bind-me")
    assert _status(kernel, token, "/api") == 200
    kernel.kubectl("delete", "secret", "bind-me")
    _eventually_status(kernel, token, 401)


def _token_request(kernel, spec: dict, account: str = "default", **metadata) -> httpx.Response:
    with kernel.client() as client:
        return client.post(f"/api/v1/namespaces/default/serviceaccounts/{account}/token", json={
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": metadata, "spec": spec})


def test_token_request_answers_kube_errors(kernel) -> None:
    response = _token_request(kernel, {"expirationSeconds": 599})
    assert response.status_code == 422
    assert response.json()["message"] == (
        'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: '
        "599: may not specify a duration less than 10 minutes")
    response = _token_request(kernel, {}, account="nobody")
    assert (response.status_code, response.json()["message"]) == (
        404, 'serviceaccounts "nobody" not found')
    pod = _create_pod(kernel, "uid-check")
    response = _token_request(kernel, {"boundObjectRef": {
        "kind": "Pod", "apiVersion": "v1", "name": "uid-check", "uid": "not-the-uid"}})
    assert response.status_code == 409
    assert response.json()["message"] == (
        'Operation cannot be fulfilled on Pod "uid-check": the UID in the bound object reference '
        "(not-the-uid) does not match the UID in record. The object might have been deleted and "
        "then recreated")
    response = _token_request(kernel, {"boundObjectRef": {
        "kind": "Pod", "apiVersion": "v1", "name": "missing"}})
    assert (response.status_code, response.json()["message"]) == (404, 'pods "missing" not found')
    response = _token_request(kernel, {"boundObjectRef": {
        "kind": "Deployment", "apiVersion": "apps/v1", "name": "d"}})
    assert (response.status_code, response.json()["message"]) == (
        400, "cannot bind token to object of type apps/v1, Kind=Deployment")
    kernel.kubectl("create", "serviceaccount", "robot")
    response = _token_request(kernel, {"boundObjectRef": {
        "kind": "Pod", "apiVersion": "v1", "name": "uid-check"}}, account="robot")
    assert (response.status_code, response.json()["message"]) == (400, (
        'cannot bind token for serviceaccount "robot" to pod running with different '
        "serviceaccount name."))
    response = _token_request(kernel, {}, namespace="other")
    assert (response.status_code, response.json()["message"]) == (
        400, "the namespace of the provided object does not match the namespace sent on the request")
    response = _token_request(kernel, {}, name="someone")
    assert (response.status_code, response.json()["message"]) == (422, (
        'TokenRequest.authentication.k8s.io "default" is invalid: metadata.name: Invalid value: '
        '"someone": must match the service account name if specified'))
    response = _token_request(kernel, {}, uid="not-the-uid")
    assert (response.status_code, response.json()["message"]) == (409, (
        'Operation cannot be fulfilled on TokenRequest.authentication.k8s.io "default": the UID in '
        f"the token request (not-the-uid) does not match the UID of the service account "
        f"({_sa_uid(kernel)})"))
    assert pod["metadata"]["uid"] != "not-the-uid"


def test_token_request_answer_and_extended_admission_token(kernel) -> None:
    pod = _create_pod(kernel, "extended")
    response = _token_request(kernel, {"expirationSeconds": 3607, "boundObjectRef": {
        "kind": "Pod", "apiVersion": "v1", "name": "extended", "uid": pod["metadata"]["uid"]}})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["kind"], body["apiVersion"]) == ("TokenRequest", "authentication.k8s.io/v1")
    assert body["metadata"]["name"] == "default" and body["metadata"]["uid"] == _sa_uid(kernel)
    assert body["spec"]["audiences"] == API_AUDIENCES.split(",")
    claims = jwt.decode(body["status"]["token"], options={"verify_signature": False})
    # kube's safe transition: an admission-injected lifetime is extended to a year, warned after 1h
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert claims["kubernetes.io"]["warnafter"] == claims["iat"] + 3607
    stamp = time.strptime(body["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(time.mktime(stamp) - time.timezone - (claims["iat"] + 3607)) <= 1


def test_token_verifies_with_pyjwt_against_the_served_jwks(kernel) -> None:
    token = _token(kernel, f"--audience={AUDIENCE}")
    with kernel.client() as client:
        config = client.get("/.well-known/openid-configuration")
        keys = client.get("/openid/v1/jwks")
    assert config.headers["content-type"] == "application/json"
    assert config.headers["cache-control"] == "public, max-age=3600"
    assert config.json() == {
        "issuer": kernel.issuer, "jwks_uri": f"{kernel.issuer}/openid/v1/jwks",
        "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"]}
    assert keys.headers["content-type"] == "application/jwk-set+json"
    keyset = jwt.PyJWKSet.from_dict(keys.json())
    kid = jwt.get_unverified_header(token)["kid"]
    assert kid == _kid(_signing_key(kernel))
    claims = jwt.decode(token, keyset[kid].key, algorithms=["RS256"], audience=AUDIENCE,
                        issuer=kernel.issuer)
    assert claims["sub"] == SA_USER


def test_rbac_applies_to_the_service_account(kernel) -> None:
    kernel.kubectl("create", "serviceaccount", "reader")
    token = kernel.kubectl("create", "token", "reader", f"--audience={AUDIENCE}").stdout.strip()
    assert _status(kernel, token) == 403
    kernel.kubectl("create", "role", "cm-reader", "--verb=get,list", "--resource=configmaps")
    kernel.kubectl("create", "rolebinding", "reader-cm", "--role=cm-reader",
                   "--serviceaccount=default:reader")
    deadline = time.monotonic() + 10
    while _status(kernel, token) != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _status(kernel, token, "/api/v1/namespaces/default/secrets") == 403
    # kube's bootstrap policy: every service account may read the issuer discovery documents,
    # anonymous users may not; creating a token is `create serviceaccounts/token`
    assert _status(kernel, token, "/openid/v1/jwks") == 200
    assert _status(kernel, None, "/.well-known/openid-configuration") == 403
    with kernel.client(token=token) as client:
        response = client.post("/api/v1/namespaces/default/serviceaccounts/reader/token",
                               json={"spec": {}})
    assert response.status_code == 403
    assert response.json()["message"] == (
        'serviceaccounts "reader" is forbidden: User "system:serviceaccount:default:reader" cannot '
        'create resource "serviceaccounts/token" in API group "" in the namespace "default"')


def _legacy_token(kernel, secret: str) -> str:
    key = _signing_key(kernel)
    claims = {"iss": "kubernetes/serviceaccount", "sub": SA_USER,
              "kubernetes.io/serviceaccount/namespace": "default",
              "kubernetes.io/serviceaccount/secret.name": secret,
              "kubernetes.io/serviceaccount/service-account.name": "default",
              "kubernetes.io/serviceaccount/service-account.uid": _sa_uid(kernel)}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": _kid(key)})


def test_legacy_secret_token_is_accepted_while_its_secret_holds_it(kernel) -> None:
    token = _legacy_token(kernel, "legacy")
    assert _status(kernel, token, "/api") == 401  # no such secret
    with kernel.client() as client:
        response = client.post("/api/v1/namespaces/default/secrets", json={
            "metadata": {"name": "legacy", "annotations": {
                "kubernetes.io/service-account.name": "default"}},
            "type": "kubernetes.io/service-account-token",
            "data": {"token": base64.b64encode(token.encode()).decode()}})
    assert response.status_code == 201, response.text
    _eventually_status(kernel, token, 200)
    assert _whoami(kernel, token)["username"] == SA_USER
    labels = kernel.kubectl_json("get", "secret", "legacy")["metadata"]["labels"]
    assert labels["kubernetes.io/legacy-token-last-used"] == time.strftime("%Y-%m-%d", time.gmtime())
    assert _status(kernel, _legacy_token(kernel, "legacy") + "x", "/api") == 401  # not the stored token
    kernel.kubectl("label", "secret", "legacy", "kubernetes.io/legacy-token-invalid-since=2024-01-01")
    _eventually_status(kernel, token, 401)


def test_another_kernel_trusts_the_issuer_through_oidc_discovery(kernel, tmp_path) -> None:
    # relying parties fetch discovery unauthenticated: kube documents granting it to anonymous
    kernel.kubectl("create", "clusterrolebinding", "oidc-discovery",
                   "--clusterrole=system:service-account-issuer-discovery",
                   "--group=system:unauthenticated")
    relying = start_kernel(tmp_path / "relying", "--plugins=api_core,api_authentication,"
                           "storage_memory,authn_oidc", f"--oidc-issuer-url={kernel.issuer}",
                           f"--oidc-client-id={AUDIENCE}", f"--oidc-ca-file={kernel.ca_file}")
    try:
        token = _token(kernel, f"--audience={AUDIENCE}")
        deadline = time.monotonic() + 20
        while True:  # the relying kernel fetches the issuer's keys in the background
            with relying.client(token=token) as client:
                response = client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                       json={"kind": "SelfSubjectReview",
                                             "apiVersion": "authentication.k8s.io/v1"})
            if response.status_code == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert response.status_code == 201, response.text + relying.log()[-3000:]
        assert response.json()["status"]["userInfo"]["username"] == f"{kernel.issuer}#{SA_USER}"
    finally:
        relying.stop()


def _eventually_secret(kernel, name: str, check, timeout: float = 10) -> dict | None:
    deadline = time.monotonic() + timeout
    while True:
        with kernel.client() as client:
            response = client.get(f"/api/v1/namespaces/default/secrets/{name}")
        obj = response.json() if response.status_code == 200 else None
        if check(obj):
            return obj
        assert time.monotonic() < deadline, obj
        time.sleep(0.05)


def test_tokens_controller_fills_service_account_token_secrets(kernel) -> None:
    kernel.kubectl("create", "serviceaccount", "builder")
    with kernel.client() as client:
        response = client.post("/api/v1/namespaces/default/secrets", json={
            "metadata": {"name": "builder-token", "annotations": {
                "kubernetes.io/service-account.name": "builder"}},
            "type": "kubernetes.io/service-account-token"})
        assert response.status_code == 201, response.text
    secret = _eventually_secret(kernel, "builder-token", lambda s: s and "token" in s.get("data", {}))
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["namespace"] == "default"
    assert data["ca.crt"] == Path(kernel.ca_file).read_text()
    uid = _sa_uid(kernel, "builder")
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == uid
    claims = jwt.decode(data["token"], options={"verify_signature": False})
    assert claims == {"iss": "kubernetes/serviceaccount",
                      "sub": "system:serviceaccount:default:builder",
                      "kubernetes.io/serviceaccount/namespace": "default",
                      "kubernetes.io/serviceaccount/secret.name": "builder-token",
                      "kubernetes.io/serviceaccount/service-account.name": "builder",
                      "kubernetes.io/serviceaccount/service-account.uid": uid}
    _eventually_status(kernel, data["token"], 200)
    assert _whoami(kernel, data["token"])["username"] == "system:serviceaccount:default:builder"
    # the account goes: its token Secret goes with it, and the token stops working
    kernel.kubectl("delete", "serviceaccount", "builder")
    _eventually_secret(kernel, "builder-token", lambda s: s is None)
    _eventually_status(kernel, data["token"], 401)


def test_tokens_controller_deletes_a_secret_of_a_missing_account(kernel) -> None:
    with kernel.client() as client:
        assert client.post("/api/v1/namespaces/default/secrets", json={
            "metadata": {"name": "orphan-token", "annotations": {
                "kubernetes.io/service-account.name": "nobody-here"}},
            "type": "kubernetes.io/service-account-token"}).status_code == 201
    _eventually_secret(kernel, "orphan-token", lambda s: s is None)


def test_node_bound_token_stops_working_once_the_node_is_deleted(kernel) -> None:
    with kernel.client() as client:
        node = client.post("/api/v1/nodes", json={"metadata": {"name": "n-bound"}}).json()
    response = _token_request(kernel, {"audiences": [AUDIENCE], "boundObjectRef": {
        "kind": "Node", "apiVersion": "v1", "name": "n-bound"}})
    assert response.status_code == 201, response.text
    token = response.json()["status"]["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["kubernetes.io"]["node"] == {"name": "n-bound", "uid": node["metadata"]["uid"]}
    extra = _whoami(kernel, token)["extra"]
    assert extra["authentication.kubernetes.io/node-name"] == ["n-bound"]
    assert extra["authentication.kubernetes.io/node-uid"] == [node["metadata"]["uid"]]
    kernel.kubectl("delete", "node", "n-bound")
    _eventually_status(kernel, token, 401)


def test_token_review_of_a_service_account_token(kernel) -> None:
    token = _token(kernel, f"--audience={AUDIENCE}")
    with kernel.client() as client:
        review = client.post("/apis/authentication.k8s.io/v1/tokenreviews", json={
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token}}).json()
    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == SA_USER
