"""JWT authentication against a real local OIDC issuer (HTTPS discovery + JWKS, real keys)."""

from __future__ import annotations

import time

import pytest
import trio

import kernel_authn_oidc.provider as provider_module
from kernel.authentication import AuthenticationError
from kernel.endpoints.request import Request
from kernel_authn_oidc.authenticator import OIDCAuthenticator
from kernel_authn_oidc.config import (ALL_SIGNING_ALGS, AuthenticationConfig, JWTAuthenticator,
                                      PrefixedClaim)
from kernel_authn_oidc.testing import LocalIssuer, free_port

AUDIENCE = "kubernetes"


@pytest.fixture
def issuer():
    with LocalIssuer() as issuer:
        issuer.add_key("RS256")
        issuer.add_key("ES256")
        yield issuer


def bearer(token: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": b"",
                    "headers": [(b"authorization", f"Bearer {token}".encode())]}, None, None)  # type: ignore[arg-type]


def jwt_config(issuer: LocalIssuer, **overrides) -> JWTAuthenticator:
    fields = dict(url=issuer.url, audiences=(AUDIENCE, "other"), username=PrefixedClaim("sub", "oidc:"),
                  groups=PrefixedClaim("groups", "g:"),
                  certificate_authority=issuer.ca_pem)
    return JWTAuthenticator(**{**fields, **overrides})


def authenticator(issuer: LocalIssuer, algs=ALL_SIGNING_ALGS, **overrides) -> OIDCAuthenticator:
    return OIDCAuthenticator(AuthenticationConfig((jwt_config(issuer, **overrides),), tuple(algs)))


async def test_rs256_and_es256_tokens_map_claims_to_the_user(issuer) -> None:
    auth = authenticator(issuer, uid_claim="uid")
    for kid in issuer.published:
        token = issuer.token(kid, sub="jane", aud=AUDIENCE, groups=["dev", "ops"], uid="u-1")
        user = await auth.authenticate(bearer(token))
        assert (user.name, user.uid, list(user.groups)) == ("oidc:jane", "u-1", ["g:dev", "g:ops"])
    # aud may be a list; one match is enough (MatchAny); a string groups claim is one group
    token = issuer.token(sub="bob", aud=["elsewhere", "other"], groups="admins", uid="u-2")
    assert list((await auth.authenticate(bearer(token))).groups) == ["g:admins"]
    assert issuer.requests["/.well-known/openid-configuration"] == 1  # fetched once, then cached
    assert issuer.requests["/keys"] == 1


async def test_tokens_that_are_not_ours_pass_on(issuer) -> None:
    auth = authenticator(issuer)
    assert await auth.authenticate(bearer("not-a-jwt")) is None
    other = issuer.token(sub="x", aud=AUDIENCE, iss="https://elsewhere.example")  # wrong issuer
    assert await auth.authenticate(bearer(other)) is None  # the chain turns it into a 401
    assert issuer.requests["/keys"] == 0


@pytest.mark.parametrize("case, message", [
    ("wrong audience", "Audience doesn't match"),
    ("expired", "Signature has expired"),
    ("not yet valid", "The token is not yet valid (nbf)"),
    ("issued in the future", "The token is not yet valid (iat)"),
    ("no exp", 'Token is missing the "exp" claim'),
    ("bad signature", "failed to verify id token signature"),
    ("alg none", "unsupported algorithm"),
    ("tampered", "failed to verify id token signature"),
    ("email not verified", "oidc: email not verified"),
    ("no username claim", 'oidc: parse username claims "sub": claim not present'),
    ("numeric username", "oidc: verify token: Subject must be a string"),
    ("missing uid", 'oidc: parse uid claim "uid": claim not present'),
    ("groups not strings", 'oidc: parse groups claim "groups": not a string or an array of strings'),
])
async def test_bad_tokens_are_rejected(issuer, case, message) -> None:
    now = int(time.time())
    auth = authenticator(issuer)
    if case == "email not verified":
        auth = authenticator(issuer, username=PrefixedClaim("email", ""))
    if case == "missing uid":
        auth = authenticator(issuer, uid_claim="uid")
    tokens = {
        "wrong audience": lambda: issuer.token(sub="j", aud="someone-else"),
        "expired": lambda: issuer.token(sub="j", aud=AUDIENCE, exp=now - 60, iat=now - 600),
        "not yet valid": lambda: issuer.token(sub="j", aud=AUDIENCE, nbf=now + 300),
        "issued in the future": lambda: issuer.token(sub="j", aud=AUDIENCE, iat=now + 300),
        "no exp": lambda: issuer.token(sub="j", aud=AUDIENCE, exp=None),
        "bad signature": lambda: _forged(issuer),
        "alg none": lambda: issuer.unsigned_token(iss=issuer.url, sub="j", aud=AUDIENCE, exp=now + 60),
        "tampered": lambda: _tampered(issuer.token(sub="j", aud=AUDIENCE)),
        "email not verified": lambda: issuer.token(email="j@x", email_verified=False, aud=AUDIENCE),
        "no username claim": lambda: issuer.token(aud=AUDIENCE),
        "numeric username": lambda: issuer.token(sub=7, aud=AUDIENCE),
        "groups not strings": lambda: issuer.token(sub="j", aud=AUDIENCE, groups=[1]),
        "missing uid": lambda: issuer.token(sub="j", aud=AUDIENCE),
    }
    with pytest.raises(AuthenticationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await auth.authenticate(bearer(tokens[case]()))


def _forged(issuer: LocalIssuer) -> str:
    """Signed by a key the issuer never published, under a published key's id."""
    kid = issuer.published[0]
    impostor = issuer.add_key(issuer.keys[kid][0], publish=False)
    issuer.keys[kid], issuer.keys[impostor] = issuer.keys[impostor], issuer.keys[kid]
    token = issuer.token(kid, sub="j", aud=AUDIENCE)
    issuer.keys[kid], issuer.keys[impostor] = issuer.keys[impostor], issuer.keys[kid]
    return token


def _tampered(token: str) -> str:
    import base64
    import json
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "admin"
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{payload}.{signature}"


async def test_signing_algorithms_are_limited_to_the_allowed_ones(issuer) -> None:
    auth = authenticator(issuer, algs=("RS256",))  # --oidc-signing-algs default
    es256 = issuer.token(issuer.published[1], sub="j", aud=AUDIENCE)
    with pytest.raises(AuthenticationError, match=r"expected \['RS256'\] got 'ES256'"):
        await auth.authenticate(bearer(es256))
    assert (await auth.authenticate(bearer(issuer.token(issuer.published[0], sub="j",
                                                        aud=AUDIENCE)))).name == "oidc:j"


async def test_required_claims(issuer) -> None:
    auth = authenticator(issuer, required_claims=(("hd", "example.com"),))
    assert await auth.authenticate(bearer(issuer.token(sub="j", aud=AUDIENCE, hd="example.com")))
    with pytest.raises(AuthenticationError, match="required claim hd not present"):
        await auth.authenticate(bearer(issuer.token(sub="j", aud=AUDIENCE)))
    with pytest.raises(AuthenticationError, match="Got = evil.com, want = example.com"):
        await auth.authenticate(bearer(issuer.token(sub="j", aud=AUDIENCE, hd="evil.com")))


async def test_key_rotation_refetches_once_per_interval(issuer, monkeypatch) -> None:
    monkeypatch.setattr(provider_module, "REFETCH_MIN_INTERVAL", 0.3)
    auth = authenticator(issuer)
    assert await auth.authenticate(bearer(issuer.token(sub="before", aud=AUDIENCE)))
    new_kid = issuer.rotate("ES256")
    await trio.sleep(0.35)
    token = issuer.token(new_kid, sub="after", aud=AUDIENCE)
    assert (await auth.authenticate(bearer(token))).name == "oidc:after"
    assert issuer.requests["/keys"] == 2
    # Unknown key ids in a burst: one more fetch at most, however many requests.
    bogus = [issuer.token(new_kid, sub="x", aud=AUDIENCE, header={"kid": f"nope-{i}"}) for i in range(5)]
    await trio.sleep(0.35)
    for token in bogus:
        with pytest.raises(AuthenticationError, match="failed to verify"):
            await auth.authenticate(bearer(token))
    assert issuer.requests["/keys"] == 3
    # The old key was withdrawn by the rotation: its tokens fail now.
    old = issuer.token(issuer.add_key("RS256", publish=False), sub="x", aud=AUDIENCE)
    with pytest.raises(AuthenticationError):
        await auth.authenticate(bearer(old))


async def test_issuer_unreachable_at_start_then_reachable(monkeypatch, nursery) -> None:
    monkeypatch.setattr(provider_module, "REFETCH_MIN_INTERVAL", 0.2)
    monkeypatch.setattr(provider_module, "RETRY_INTERVAL", 0.2)
    port = free_port()
    issuer = LocalIssuer(port=port)
    issuer.add_key("RS256")
    auth = authenticator(issuer)
    await nursery.start(auth.run)  # the background fetch fails: nobody listens yet
    token = issuer.token(sub="late", aud=AUDIENCE)
    with pytest.raises(AuthenticationError, match="oidc: authenticator not initialized"):
        await auth.authenticate(bearer(token))
    with issuer:
        await trio.sleep(0.3)
        assert (await auth.authenticate(bearer(token))).name == "oidc:late"


async def test_discovery_must_name_the_configured_issuer(issuer) -> None:
    auth = authenticator(issuer, url=issuer.url + "/", discovery_url=issuer.url +
                         "/.well-known/openid-configuration")
    token = issuer.token(sub="j", aud=AUDIENCE, iss=issuer.url + "/")
    with pytest.raises(AuthenticationError, match="not initialized"):
        await auth.authenticate(bearer(token))
    provider = auth.issuers[issuer.url + "/"].provider
    assert "issuer did not match the issuer returned by provider" in provider.last_error


async def test_reconfiguring_keeps_unchanged_issuers_and_drops_removed_ones(issuer, nursery) -> None:
    auth = authenticator(issuer)
    await nursery.start(auth.run)
    token = issuer.token(sub="j", aud=AUDIENCE)
    assert await auth.authenticate(bearer(token))
    kept = auth.issuers[issuer.url]
    auth.configure(AuthenticationConfig((jwt_config(issuer),), ALL_SIGNING_ALGS))
    assert auth.issuers[issuer.url] is kept
    auth.configure(AuthenticationConfig((jwt_config(issuer, audiences=("new-audience",)),),
                                        ALL_SIGNING_ALGS))
    with pytest.raises(AuthenticationError, match="Audience doesn't match"):
        await auth.authenticate(bearer(token))
    auth.configure(AuthenticationConfig((), ALL_SIGNING_ALGS))
    assert await auth.authenticate(bearer(token)) is None
