"""AuthenticationConfiguration (apiserver.config.k8s.io) and the legacy ``--oidc-*`` flags.

Both become one :class:`AuthenticationConfig`: a list of JWT authenticators, each an issuer with
its audiences, CA, claim mappings and claim validation rules. Validation follows kube's
(k8s.io/apiserver/pkg/apis/apiserver/validation) with its field paths and messages, so a bad file
names the field. CEL is not implemented: every ``expression`` field (claim mappings, claim
validation rules, ``extra``, ``userValidationRules``) is refused with a clear error rather than
ignored, and so is ``anonymous`` (use --anonymous-auth).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec

GROUP = "apiserver.config.k8s.io"
API_VERSIONS = tuple(f"{GROUP}/{v}" for v in ("v1", "v1beta1", "v1alpha1"))
KIND = "AuthenticationConfiguration"
MATCH_ANY = "MatchAny"
#: go-oidc's allow-list; with --authentication-config every one of them is accepted (as in kube).
ALL_SIGNING_ALGS = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512")
NO_CEL = "CEL expressions are not supported by this server"


class ConfigError(ValueError):
    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


class PrefixedClaim(msgspec.Struct, frozen=True):
    claim: str
    prefix: str = ""


class JWTAuthenticator(msgspec.Struct, frozen=True):
    url: str
    audiences: tuple[str, ...]
    username: PrefixedClaim
    groups: PrefixedClaim | None = None
    uid_claim: str = ""
    required_claims: tuple[tuple[str, str], ...] = ()
    discovery_url: str = ""
    certificate_authority: str = ""  # PEM; empty: the system's trust store


class AuthenticationConfig(msgspec.Struct, frozen=True):
    jwt: tuple[JWTAuthenticator, ...] = ()
    signing_algs: tuple[str, ...] = ALL_SIGNING_ALGS


# -- validation helpers -----------------------------------------------------------------------

class _Errors(list):
    def required(self, path: str, detail: str = "") -> None:
        self.append(f"{path}: Required value" + (f": {detail}" if detail else ""))

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.append(f'{path}: Invalid value: "{value}": {detail}')

    def duplicate(self, path: str, value: Any) -> None:
        self.append(f'{path}: Duplicate value: "{value}"')

    def forbidden(self, path: str, detail: str) -> None:
        self.append(f"{path}: Forbidden: {detail}")


def _object(value: Any, path: str, errors: _Errors, known: Sequence[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.invalid(path, value, "must be an object")
        return {}
    for key in value:
        if key not in known:
            errors.append(f'{path + "." if path else ""}{key}: unknown field "{key}"')
    return dict(value)


def _string(obj: Mapping[str, Any], key: str, path: str, errors: _Errors) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.invalid(f"{path}.{key}", value, "must be a string")
        return ""
    return value


def check_https_url(value: str, path: str, errors: _Errors) -> None:
    parts = urlsplit(value)
    if parts.scheme != "https":
        errors.invalid(path, value, "URL scheme must be https")
    if parts.username or parts.password:
        errors.invalid(path, value, "URL must not contain a username or password")
    if parts.query:
        errors.invalid(path, value, "URL must not contain a query")
    if parts.fragment:
        errors.invalid(path, value, "URL must not contain a fragment")


def check_ca(pem: str, path: str, errors: _Errors) -> None:
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError):
        errors.invalid(path, "<omitted>", "data does not contain any valid RSA or ECDSA certificates")


def ca_errors(pem: str, path: str) -> list[str]:
    errors = _Errors()
    check_ca(pem, path, errors)
    return list(errors)


def _refuse_cel(obj: Mapping[str, Any], key: str, path: str, errors: _Errors) -> None:
    if obj.get(key):
        errors.forbidden(f"{path}.{key}", f"{NO_CEL}; use claim (and prefix/requiredValue)")


def _prefixed(value: Any, path: str, errors: _Errors, required: bool) -> PrefixedClaim | None:
    obj = _object(value, path, errors, ("claim", "prefix", "expression"))
    _refuse_cel(obj, "expression", path, errors)
    claim = _string(obj, "claim", path, errors)
    if not claim:
        if required and not obj.get("expression"):
            errors.required(path, "claim or expression is required")
        if "prefix" in obj and obj["prefix"] is not None and not obj.get("expression"):
            errors.invalid(f"{path}.prefix", obj["prefix"], "may only be specified when claim is specified")
        return None
    if obj.get("prefix") is None:
        errors.required(f"{path}.prefix", "prefix is required when claim is set. It can be set to an "
                                          "empty string to disable prefixing")
        return None
    return PrefixedClaim(claim, _string(obj, "prefix", path, errors))


def _jwt(value: Any, path: str, errors: _Errors) -> JWTAuthenticator | None:
    obj = _object(value, path, errors, ("issuer", "claimValidationRules", "claimMappings",
                                        "userValidationRules"))
    if obj.get("userValidationRules"):
        errors.forbidden(f"{path}.userValidationRules", NO_CEL)
    start = len(errors)

    issuer = _object(obj.get("issuer"), f"{path}.issuer", errors,
                     ("url", "discoveryURL", "certificateAuthority", "audiences",
                      "audienceMatchPolicy", "egressSelectorType"))
    url = _string(issuer, "url", f"{path}.issuer", errors)
    if not url:
        errors.required(f"{path}.issuer.url")
    else:
        check_https_url(url, f"{path}.issuer.url", errors)
    discovery = _string(issuer, "discoveryURL", f"{path}.issuer", errors)
    if discovery:
        check_https_url(discovery, f"{path}.issuer.discoveryURL", errors)
        if url and discovery.rstrip("/") == url.rstrip("/"):
            errors.invalid(f"{path}.issuer.discoveryURL", discovery, "discoveryURL must be different from URL")
    if issuer.get("egressSelectorType"):
        errors.forbidden(f"{path}.issuer.egressSelectorType", "egress selection is not supported by this server")
    ca = _string(issuer, "certificateAuthority", f"{path}.issuer", errors)
    if ca:
        check_ca(ca, f"{path}.issuer.certificateAuthority", errors)
    audiences = issuer.get("audiences") or []
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        errors.invalid(f"{path}.issuer.audiences", audiences, "must be a list of strings")
        audiences = []
    if not audiences:
        errors.required(f"{path}.issuer.audiences", "at least one issuer.audiences is required")
    seen: set[str] = set()
    for i, audience in enumerate(audiences):
        if not audience:
            errors.required(f"{path}.issuer.audiences[{i}]", "audience can't be empty")
        elif audience in seen:
            errors.duplicate(f"{path}.issuer.audiences[{i}]", audience)
        seen.add(audience)
    policy = _string(issuer, "audienceMatchPolicy", f"{path}.issuer", errors)
    if len(audiences) > 1 and policy != MATCH_ANY:
        errors.invalid(f"{path}.issuer.audienceMatchPolicy", policy,
                       "audienceMatchPolicy must be MatchAny for multiple audiences")
    if len(audiences) <= 1 and policy not in ("", MATCH_ANY):
        errors.invalid(f"{path}.issuer.audienceMatchPolicy", policy,
                       "audienceMatchPolicy must be empty or MatchAny for single audience")

    rules: list[tuple[str, str]] = []
    raw_rules = obj.get("claimValidationRules") or []
    if not isinstance(raw_rules, list):
        errors.invalid(f"{path}.claimValidationRules", raw_rules, "must be a list")
        raw_rules = []
    for i, raw in enumerate(raw_rules):
        rule_path = f"{path}.claimValidationRules[{i}]"
        rule = _object(raw, rule_path, errors, ("claim", "requiredValue", "expression", "message"))
        _refuse_cel(rule, "expression", rule_path, errors)
        claim = _string(rule, "claim", rule_path, errors)
        if not claim:
            if not rule.get("expression"):
                errors.required(f"{rule_path}.claim", "claim or expression is required")
            continue
        if claim in dict(rules):
            errors.duplicate(f"{rule_path}.claim", claim)
        rules.append((claim, _string(rule, "requiredValue", rule_path, errors)))

    mappings = _object(obj.get("claimMappings"), f"{path}.claimMappings", errors,
                       ("username", "groups", "uid", "extra"))
    username = _prefixed(mappings.get("username"), f"{path}.claimMappings.username", errors, True)
    groups = _prefixed(mappings.get("groups"), f"{path}.claimMappings.groups", errors, False)
    uid = _object(mappings.get("uid"), f"{path}.claimMappings.uid", errors, ("claim", "expression"))
    _refuse_cel(uid, "expression", f"{path}.claimMappings.uid", errors)
    if mappings.get("extra"):
        errors.forbidden(f"{path}.claimMappings.extra", f"{NO_CEL} (extra needs valueExpression)")

    if len(errors) > start or username is None:
        return None
    return JWTAuthenticator(url=url, audiences=tuple(audiences), username=username, groups=groups,
                            uid_claim=_string(uid, "claim", f"{path}.claimMappings.uid", errors),
                            required_claims=tuple(rules), discovery_url=discovery,
                            certificate_authority=ca)


def parse_authentication_configuration(data: bytes | str) -> AuthenticationConfig:
    """Decode (YAML or JSON) and validate; ConfigError lists every problem."""
    import yaml  # only a server given --authentication-config reads YAML here

    errors = _Errors()
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as error:
        raise ConfigError([f"cannot decode: {error}"]) from None
    if not doc:
        raise ConfigError(["empty config data"])
    obj = _object(doc, "", errors, ("apiVersion", "kind", "jwt", "anonymous"))
    if obj.get("apiVersion") not in API_VERSIONS:
        errors.append(f'apiVersion: Unsupported value: "{obj.get("apiVersion")}": supported values: '
                      + ", ".join(f'"{v}"' for v in API_VERSIONS))
    if obj.get("kind") != KIND:
        errors.append(f'kind: Unsupported value: "{obj.get("kind")}": supported values: "{KIND}"')
    if obj.get("anonymous") is not None:
        errors.forbidden("anonymous", "not supported by this server; use --anonymous-auth")
    raw = obj.get("jwt") or []
    if not isinstance(raw, list):
        errors.invalid("jwt", raw, "must be a list")
        raw = []
    authenticators: list[JWTAuthenticator] = []
    urls: set[str] = set()
    for i, item in enumerate(raw):
        built = _jwt(item, f"jwt[{i}]", errors)
        if built is None:
            continue
        if built.url in urls:
            errors.duplicate(f"jwt[{i}].issuer.url", built.url)
        urls.add(built.url)
        authenticators.append(built)
    if errors:
        raise ConfigError(errors)
    return AuthenticationConfig(tuple(authenticators), ALL_SIGNING_ALGS)


# -- the legacy flags ---------------------------------------------------------------------------

OIDC_FLAGS = ("oidc-issuer-url", "oidc-client-id", "oidc-ca-file", "oidc-username-claim",
              "oidc-username-prefix", "oidc-groups-claim", "oidc-groups-prefix",
              "oidc-signing-algs", "oidc-required-claim")


def required_claims(text: str) -> dict[str, str]:
    """``--oidc-required-claim``: ``key=value`` pairs, comma separated (pflag's mapStringString)."""
    claims: dict[str, str] = {}
    for pair in (p.strip() for p in text.split(",")):
        if not pair:
            continue
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"{pair} must be formatted as key=value")
        claims[key.strip()] = value.strip()
    return claims


class OIDCFlags(msgspec.Struct):
    issuer_url: str = ""
    client_id: str = ""
    ca_pem: str = ""
    username_claim: str = "sub"
    username_prefix: str = ""
    groups_claim: str = ""
    groups_prefix: str = ""
    signing_algs: Sequence[str] = ("RS256",)
    required: Mapping[str, str] = msgspec.field(default_factory=dict)


def from_flags(flags: OIDCFlags) -> AuthenticationConfig:
    """kube's ToAuthenticationConfig for the --oidc-* flags (the username prefix rules included)."""
    prefix = flags.username_prefix
    if prefix == "" and flags.username_claim != "email":
        prefix = flags.issuer_url + "#"  # kube's legacy default: issuer-qualified names
    if flags.username_prefix == "-":
        prefix = ""
    groups = PrefixedClaim(flags.groups_claim, flags.groups_prefix) if flags.groups_claim else None
    jwt = JWTAuthenticator(url=flags.issuer_url, audiences=(flags.client_id,),
                           username=PrefixedClaim(flags.username_claim, prefix), groups=groups,
                           required_claims=tuple(flags.required.items()),
                           certificate_authority=flags.ca_pem)
    return AuthenticationConfig((jwt,), tuple(flags.signing_algs))


def validate_flags(flags: OIDCFlags) -> list[str]:
    errors = _Errors()
    if not flags.issuer_url or not flags.client_id:
        return ["--oidc-issuer-url: oidc-issuer-url and oidc-client-id must be specified together "
                "when any oidc-* flags are set"]
    check_https_url(flags.issuer_url, "--oidc-issuer-url", errors)
    if not flags.username_claim:
        errors.required("--oidc-username-claim", "claim or expression is required")
    for alg in flags.signing_algs:
        if alg not in ALL_SIGNING_ALGS:
            errors.append(f'--oidc-signing-algs: oidc: unsupported signing alg: "{alg}" '
                          f'(supported: {", ".join(ALL_SIGNING_ALGS)})')
    if not flags.signing_algs:
        errors.required("--oidc-signing-algs")
    return list(errors)
