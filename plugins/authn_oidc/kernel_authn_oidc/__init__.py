"""authn_oidc: JWT / OpenID Connect bearer tokens (kube's ``--oidc-*`` flags, ``--authentication-config``).

Hooks: the flags and their validation (all errors at once; the two ways of configuring are
mutually exclusive, as in kube), the ``oidc`` authenticator, and a post-start hook that starts
fetching every issuer's keys in the background and, with ``--authentication-config``, watching
the file: a changed, valid file replaces the issuers without a restart; an invalid one is logged
and the previous configuration stays in force.
"""

from __future__ import annotations

from pathlib import Path

from kernel import hookimpl
from kernel.filewatch import watch_file
from kernel.server.options import string_list
from kernel.plugins import configured_by

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # httpx and PyJWT load with the authenticator, only when OIDC is configured
    from kernel_authn_oidc.authenticator import OIDCAuthenticator
from kernel_authn_oidc.config import (OIDC_FLAGS, AuthenticationConfig, ConfigError, OIDCFlags,
                                      ca_errors, from_flags, parse_authentication_configuration,
                                      required_claims, validate_flags)

NAME = "oidc"
#: Seconds between checks of --authentication-config for changes.
RELOAD_INTERVAL = 1.0


@hookimpl
def kernel_add_options(options):
    add = options.add
    add("oidc-issuer-url", default="",
        help="The URL of the OpenID issuer, only HTTPS scheme will be accepted. If set, it will be "
             "used to verify the OIDC JSON Web Token (JWT).")
    add("oidc-client-id", default="",
        help="The client ID for the OpenID Connect client, must be set if oidc-issuer-url is set.")
    add("oidc-ca-file", default="",
        help="If set, the OpenID server's certificate will be verified by one of the authorities in "
             "the oidc-ca-file, otherwise the host's root CA set will be used.")
    add("oidc-username-claim", default="sub",
        help="The OpenID claim to use as the user name. Note that claims other than the default "
             "('sub') is not guaranteed to be unique and immutable.")
    add("oidc-username-prefix", default="",
        help="If provided, all usernames will be prefixed with this value. If not provided, username "
             "claims other than 'email' are prefixed by the issuer URL to avoid clashes. To skip any "
             "prefixing, provide the value '-'.")
    add("oidc-groups-claim", default="",
        help="If provided, the name of a custom OpenID Connect claim for specifying user groups. The "
             "claim value is expected to be a string or array of strings.")
    add("oidc-groups-prefix", default="",
        help="If provided, all groups will be prefixed with this value to prevent conflicts with "
             "other authentication strategies.")
    add("oidc-signing-algs", default=["RS256"], type=string_list,
        help="Comma-separated list of allowed JOSE asymmetric signing algorithms. JWTs with a "
             "supported 'alg' header values are: RS256, RS384, RS512, ES256, ES384, ES512, PS256, "
             "PS384, PS512.")
    add("oidc-required-claim", default={}, type=required_claims,
        help="A key=value pair that describes a required claim in the ID Token. If set, the claim "
             "is verified to be present in the ID Token with a matching value. Several: "
             "k1=v1,k2=v2.")
    add("authentication-config", default="",
        help="File with Authentication Configuration to configure the JWT Token authenticator "
             "(apiserver.config.k8s.io AuthenticationConfiguration, v1, v1beta1 or v1alpha1). "
             "Reloaded when it changes. Mutually exclusive with the oidc-* flags.")


def _flags(options) -> OIDCFlags:
    ca_pem = ""
    if options.oidc_ca_file:
        ca_pem = Path(options.oidc_ca_file).read_text(encoding="utf-8")
    return OIDCFlags(issuer_url=options.oidc_issuer_url, client_id=options.oidc_client_id,
                     ca_pem=ca_pem, username_claim=options.oidc_username_claim,
                     username_prefix=options.oidc_username_prefix,
                     groups_claim=options.oidc_groups_claim, groups_prefix=options.oidc_groups_prefix,
                     signing_algs=tuple(options.oidc_signing_algs), required=options.oidc_required_claim)


def _flags_set(options) -> bool:
    return any(flag in options.explicit for flag in OIDC_FLAGS)


def _read_config(path: str) -> tuple[bytes, AuthenticationConfig]:
    try:
        content = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError([f"{path}: {error.strerror or error}"]) from None
    return content, parse_authentication_configuration(content)


@hookimpl
def kernel_validate_options(options):
    if options.authentication_config:
        errors = []
        if _flags_set(options):
            errors.append("--authentication-config: authentication-config file and oidc-* flags are "
                          "mutually exclusive")
        try:
            _read_config(options.authentication_config)
        except ConfigError as error:
            errors += [f"--authentication-config: {e}" for e in error.errors]
        return errors
    if not _flags_set(options):
        return []
    errors = []
    if options.oidc_ca_file:
        try:
            pem = Path(options.oidc_ca_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            return [f"--oidc-ca-file: {options.oidc_ca_file}: {getattr(error, 'strerror', None) or error}"]
        errors += ca_errors(pem, "--oidc-ca-file")
    return errors + validate_flags(_flags(options))


@configured_by("oidc-issuer-url", "authentication-config")
def _authenticator(context) -> OIDCAuthenticator | None:
    from kernel_authn_oidc.authenticator import OIDCAuthenticator

    options = context.options
    if options.authentication_config:
        content, config = _read_config(options.authentication_config)
        authenticator = OIDCAuthenticator(config)
        authenticator.source = content
        return authenticator
    if options.oidc_issuer_url and options.oidc_client_id:
        return OIDCAuthenticator(from_flags(_flags(options)))
    return None


@hookimpl
def kernel_authenticators():
    return {NAME: _authenticator}


@hookimpl
def kernel_post_start_hooks(context):
    authenticator = context.component("authenticators", NAME)
    if authenticator is None:
        return {}
    path = context.options.authentication_config

    async def apply(content: bytes) -> None:
        authenticator.configure(parse_authentication_configuration(content))  # raises: keep the old

    async def start(context) -> None:
        # configure() before run() has started its nursery is fine: run() starts the providers
        # of whatever configuration is current.
        context.spawn("oidc-jwt-authenticators", authenticator.run)
        if path:
            context.spawn("oidc-authentication-config-reload", lambda: watch_file(
                path, apply, current=authenticator.source, interval=RELOAD_INTERVAL))

    return {"oidc-jwt-authenticators": start}
