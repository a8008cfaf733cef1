"""AuthenticationConfiguration and the --oidc-* flags: decoding, kube's validation, conversion."""

from __future__ import annotations

import textwrap

import pytest

import kernel_authn_oidc
from kernel.server.options import OptionSet, parse as parse_flags
from kernel_authn_oidc.config import (ALL_SIGNING_ALGS, ConfigError, JWTAuthenticator, OIDCFlags,
                                      PrefixedClaim, from_flags, parse_authentication_configuration)

GOOD = textwrap.dedent("""\
    apiVersion: apiserver.config.k8s.io/v1beta1
    kind: AuthenticationConfiguration
    jwt:
    - issuer:
        url: https://issuer.example
        audiences: [kubernetes, other]
        audienceMatchPolicy: MatchAny
      claimValidationRules:
      - claim: hd
        requiredValue: example.com
      claimMappings:
        username: {claim: email, prefix: ""}
        groups: {claim: roles, prefix: "oidc:"}
        uid: {claim: sub}
    - issuer:
        url: https://second.example/tenant
        discoveryURL: https://discovery.example/.well-known/openid-configuration
        audiences: [k8s]
      claimMappings:
        username: {claim: sub, prefix: "second:"}
    """)


def test_a_valid_configuration() -> None:
    config = parse_authentication_configuration(GOOD)
    assert config.signing_algs == ALL_SIGNING_ALGS
    first, second = config.jwt
    assert first == JWTAuthenticator(
        url="https://issuer.example", audiences=("kubernetes", "other"),
        username=PrefixedClaim("email", ""), groups=PrefixedClaim("roles", "oidc:"), uid_claim="sub",
        required_claims=(("hd", "example.com"),))
    assert second.discovery_url == "https://discovery.example/.well-known/openid-configuration"
    assert parse_authentication_configuration(GOOD.replace("v1beta1", "v1")).jwt == config.jwt
    # JSON is YAML too
    assert parse_authentication_configuration(
        '{"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration", '
        '"jwt": []}').jwt == ()


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_authentication_configuration(textwrap.dedent(text))
    return raised.value.errors


def test_every_problem_is_reported_with_its_field_path() -> None:
    assert errors_of("""\
        apiVersion: apiserver.config.k8s.io/v2
        kind: AuthenticationConfiguration
        anonymous: {enabled: true}
        jwt:
        - issuer:
            url: http://issuer.example?x=1
            audiences: [a, a, b]
            audienceMatchPolicy: MatchAll
            certificateAuthority: not a pem
            bogus: 1
          claimValidationRules:
          - {claim: hd, requiredValue: x}
          - {claim: hd, requiredValue: y}
          - {requiredValue: z}
          claimMappings:
            username: {claim: sub}
            groups: {claim: groups}
        - issuer: {url: "https://x.example"}
          claimMappings: {username: {}}
        """) == [
        'apiVersion: Unsupported value: "apiserver.config.k8s.io/v2": supported values: '
        '"apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1beta1", "apiserver.config.k8s.io/v1alpha1"',
        "anonymous: Forbidden: not supported by this server; use --anonymous-auth",
        'jwt[0].issuer.bogus: unknown field "bogus"',
        'jwt[0].issuer.url: Invalid value: "http://issuer.example?x=1": URL scheme must be https',
        'jwt[0].issuer.url: Invalid value: "http://issuer.example?x=1": URL must not contain a query',
        'jwt[0].issuer.certificateAuthority: Invalid value: "<omitted>": data does not contain any '
        "valid RSA or ECDSA certificates",
        'jwt[0].issuer.audiences[1]: Duplicate value: "a"',
        'jwt[0].issuer.audienceMatchPolicy: Invalid value: "MatchAll": audienceMatchPolicy must be '
        "MatchAny for multiple audiences",
        'jwt[0].claimValidationRules[1].claim: Duplicate value: "hd"',
        "jwt[0].claimValidationRules[2].claim: Required value: claim or expression is required",
        "jwt[0].claimMappings.username.prefix: Required value: prefix is required when claim is set. "
        "It can be set to an empty string to disable prefixing",
        "jwt[0].claimMappings.groups.prefix: Required value: prefix is required when claim is set. "
        "It can be set to an empty string to disable prefixing",
        "jwt[1].issuer.audiences: Required value: at least one issuer.audiences is required",
        "jwt[1].claimMappings.username: Required value: claim or expression is required",
    ]


def test_cel_expressions_are_refused_not_ignored() -> None:
    errors = errors_of("""\
        apiVersion: apiserver.config.k8s.io/v1
        kind: AuthenticationConfiguration
        jwt:
        - issuer: {url: "https://i.example", audiences: [k]}
          claimValidationRules: [{expression: "claims.hd == 'x'"}]
          claimMappings:
            username: {expression: "claims.sub"}
            uid: {expression: "claims.sub"}
            extra: [{key: "example.com/x", valueExpression: "claims.x"}]
          userValidationRules: [{expression: "true"}]
        """)
    assert errors == [
        "jwt[0].userValidationRules: Forbidden: CEL expressions are not supported by this server",
        "jwt[0].claimValidationRules[0].expression: Forbidden: CEL expressions are not supported by "
        "this server; use claim (and prefix/requiredValue)",
        "jwt[0].claimMappings.username.expression: Forbidden: CEL expressions are not supported by "
        "this server; use claim (and prefix/requiredValue)",
        "jwt[0].claimMappings.uid.expression: Forbidden: CEL expressions are not supported by this "
        "server; use claim (and prefix/requiredValue)",
        "jwt[0].claimMappings.extra: Forbidden: CEL expressions are not supported by this server "
        "(extra needs valueExpression)",
    ]


def test_duplicate_issuers_and_empty_files() -> None:
    doubled = GOOD.replace("https://second.example/tenant", "https://issuer.example")
    assert 'jwt[1].issuer.url: Duplicate value: "https://issuer.example"' in errors_of(doubled)
    assert errors_of("") == ["empty config data"]


@pytest.mark.parametrize("claim, prefix, expected", [
    ("sub", "", "https://issuer.example#"), ("email", "", ""), ("sub", "-", ""), ("sub", "oidc:", "oidc:"),
])
def test_flags_become_one_jwt_authenticator_with_kubes_prefix_rules(claim, prefix, expected) -> None:
    config = from_flags(OIDCFlags(issuer_url="https://issuer.example", client_id="kubernetes",
                                  username_claim=claim, username_prefix=prefix,
                                  groups_claim="groups", signing_algs=("RS256", "ES256"),
                                  required={"hd": "example.com"}))
    (jwt,) = config.jwt
    assert jwt.username == PrefixedClaim(claim, expected)
    assert jwt.audiences == ("kubernetes",) and jwt.groups == PrefixedClaim("groups", "")
    assert jwt.required_claims == (("hd", "example.com"),)
    assert config.signing_algs == ("RS256", "ES256")


def validate(*argv: str) -> list[str]:
    option_set = OptionSet()
    kernel_authn_oidc.kernel_add_options(option_set.for_plugin("authn_oidc"))
    result = parse_flags(option_set, list(argv))
    assert not result.errors, result.errors
    return kernel_authn_oidc.kernel_validate_options(result.options)


def test_flag_validation(tmp_path) -> None:
    assert validate() == []
    assert validate("--oidc-groups-claim=groups") == [
        "--oidc-issuer-url: oidc-issuer-url and oidc-client-id must be specified together when any "
        "oidc-* flags are set"]
    assert validate("--oidc-issuer-url=http://i.example", "--oidc-client-id=k",
                    "--oidc-signing-algs=RS256,HS256,none") == [
        '--oidc-issuer-url: Invalid value: "http://i.example": URL scheme must be https',
        '--oidc-signing-algs: oidc: unsupported signing alg: "HS256" (supported: ' + ", ".join(ALL_SIGNING_ALGS) + ")",
        '--oidc-signing-algs: oidc: unsupported signing alg: "none" (supported: ' + ", ".join(ALL_SIGNING_ALGS) + ")",
    ]
    config = tmp_path / "authn.yaml"
    config.write_text(GOOD)
    assert validate(f"--authentication-config={config}") == []
    assert validate(f"--authentication-config={config}", "--oidc-username-claim=email") == [
        "--authentication-config: authentication-config file and oidc-* flags are mutually exclusive"]
    config.write_text(GOOD.replace("https://issuer.example", "http://issuer.example"))
    assert validate(f"--authentication-config={config}") == [
        '--authentication-config: jwt[0].issuer.url: Invalid value: "http://issuer.example": URL '
        "scheme must be https"]
    assert validate(f"--authentication-config={tmp_path / 'nope'}") == [
        f"--authentication-config: {tmp_path / 'nope'}: No such file or directory"]


def test_required_claim_flag_format() -> None:
    option_set = OptionSet()
    kernel_authn_oidc.kernel_add_options(option_set.for_plugin("authn_oidc"))
    result = parse_flags(option_set, ["--oidc-required-claim=hd=example.com,tier=gold"])
    assert result.options.oidc_required_claim == {"hd": "example.com", "tier": "gold"}
    result = parse_flags(option_set, ["--oidc-required-claim=novalue"])
    assert result.errors == ['invalid argument "novalue" for "--oidc-required-claim" flag: novalue '
                             "must be formatted as key=value"]
