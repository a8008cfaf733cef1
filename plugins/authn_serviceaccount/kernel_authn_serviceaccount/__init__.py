"""authn_serviceaccount: ServiceAccount tokens (kube-apiserver's --service-account-* flags).

Hooks: the flags and their validation; completion (the default issuer, --api-audiences
defaulting to the issuers as kube does, the signing key: --service-account-signing-key-file or
one generated into --cert-dir); the ``serviceaccounts/token`` subresource (TokenRequest); the
``serviceaccount`` authenticator (bound and legacy Secret tokens, objects read from informers);
the issuer's OIDC discovery documents as routes; and kube's tokens controller, which fills
``kubernetes.io/service-account-token`` Secrets.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kernel import hookimpl
from kernel.server.options import boolean, non_negative_duration, string_array

NAME = "serviceaccount"
#: The issuer when --service-account-issuer is not given (kube requires the flag; this is the
#: in-cluster name many distributions use).
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
_MIN_MAX_EXPIRATION, _MAX_MAX_EXPIRATION = 3600, 1 << 32


@hookimpl
def kernel_requires():
    return ["api_core"]


@hookimpl
def kernel_add_options(options):
    add = options.add
    add("service-account-issuer", default=[], type=string_array,
        help="Identifier of the service account token issuer. The issuer will assert this identifier "
             "in \"iss\" claim of issued tokens. This value is a string or URI. It is highly "
             "recommended that this value comply with the OpenID spec (an https URL) and that it "
             "serves OpenID discovery documents at {service-account-issuer}/.well-known/"
             "openid-configuration. When this flag is specified multiple times, the first is used "
             f"to generate tokens and all are used to determine which issuers are accepted. "
             f"Default: {DEFAULT_ISSUER}.")
    add("service-account-key-file", default=[], type=string_array,
        help="File containing PEM-encoded x509 RSA or ECDSA private or public keys, used to verify "
             "ServiceAccount tokens. The specified file can contain multiple keys, and the flag can "
             "be specified multiple times with different files. The signing key's public half is "
             "always accepted.")
    add("service-account-signing-key-file", default="",
        help="Path to the file that contains the current private key of the service account token "
             "issuer. The issuer will sign issued ID tokens with this private key. Default: an RSA "
             "key generated once into --cert-dir (service-account.key).")
    add("service-account-jwks-uri", default="",
        help="Overrides the URI for the JSON Web Key Set in the discovery doc served at "
             "/.well-known/openid-configuration. This flag is useful if the discovery doc and key "
             "set are served to relying parties from a URL other than the API server's external "
             "address (--advertise-address and --secure-port).")
    add("service-account-max-token-expiration", default=0.0, type=non_negative_duration,
        help="The maximum validity duration of a token created by the service account token "
             "issuer. If an otherwise valid TokenRequest with a validity duration larger than this "
             "value is requested, a token will be issued with a validity duration of this value.")
    add("service-account-extend-token-expiration", default=True, type=boolean,
        help="Turns on projected service account expiration extension during token generation, "
             "which helps safe transition from legacy token to bound service account token feature. "
             "If this flag is enabled, admission injected tokens would be extended up to 1 year to "
             "prevent unexpected failure during transition, ignoring value of "
             "service-account-max-token-expiration.")


def _issuer_errors(issuers: list[str]) -> list[str]:
    errors, seen = [], set()
    for issuer in issuers:
        if ":" in issuer:
            try:
                urlsplit(issuer)
            except ValueError as error:
                errors.append(f'--service-account-issuer: service-account-issuer "{issuer}" '
                              f"contained a ':' but was not a valid URL: {error}")
                continue
        if not issuer:
            errors.append("--service-account-issuer: service-account-issuer should not be an empty string")
            continue
        if issuer in seen:
            errors.append(f'--service-account-issuer: service-account-issuer "{issuer}" is already specified')
            continue
        seen.add(issuer)
    return errors


def _file_error(path: str, error: Exception) -> str:
    if isinstance(error, OSError):  # "<path>: No such file or directory", as Go's os errors read
        return f"{path}: {error.strerror or error}"
    return str(error)


@hookimpl
def kernel_validate_options(options):
    from kernel_authn_serviceaccount.keys import (KeyFileError, private_key_from_file,
                                                  public_keys_from_file)

    errors = _issuer_errors(options.service_account_issuer)
    seconds = options.service_account_max_token_expiration
    if seconds and not _MIN_MAX_EXPIRATION <= seconds <= _MAX_MAX_EXPIRATION:
        errors.append("--service-account-max-token-expiration: the service-account-max-token-expiration "
                      "must be between 1 hour and 2^32 seconds")
    uri = options.service_account_jwks_uri
    if uri and urlsplit(uri).scheme != "https":
        errors.append(f"--service-account-jwks-uri: service-account-jwks-uri requires https scheme, "
                      f"parsed as: {uri}")
    for path in options.service_account_key_file:
        try:
            public_keys_from_file(path)
        except (OSError, KeyFileError) as error:
            errors.append(f"--service-account-key-file: failed to set up public service account "
                          f"keys: {_file_error(path, error)}")
    if options.service_account_signing_key_file:
        path = options.service_account_signing_key_file
        try:
            private_key_from_file(path)
        except (OSError, KeyFileError) as error:
            errors.append(f"--service-account-signing-key-file: failed to parse "
                          f"service-account-issuer-key-file: {_file_error(path, error)}")
    return errors


@hookimpl
def kernel_complete_options(options):
    from kernel_authn_serviceaccount.keys import ensure_generated_key, load_key_set

    if not options.service_account_issuer:
        options.service_account_issuer = [DEFAULT_ISSUER]
    if not options.api_audiences:  # kube: the API's audiences default to the issuers
        options.api_audiences = list(options.service_account_issuer)
    signing = (options.service_account_signing_key_file or _serving_key(options)
               or ensure_generated_key(options.cert_dir))
    options.service_account_keys = load_key_set(signing, list(options.service_account_key_file))


def _serving_key(options: Any) -> str:
    """--tls-private-key-file when it is an RSA or ECDSA key: kube verifies with it when no
    --service-account-key-file is given; signing with it too keeps a given-certificates install
    from writing a key into --cert-dir, which it otherwise leaves alone."""
    from kernel_authn_serviceaccount.keys import KeyFileError, private_key_from_file

    path = options.tls_private_key_file
    if not path or options.service_account_key_file:
        return ""
    try:
        private_key_from_file(path)
    except (OSError, KeyFileError):
        return ""
    return path


def _generator(options: Any):
    from kernel_authn_serviceaccount.tokens import TokenGenerator

    return TokenGenerator(options.service_account_issuer[0], options.service_account_keys)


def _token_subresource(context):
    from kernel_authn_serviceaccount.tokenrequest import TokenREST, token_subresource

    options = context.options
    return token_subresource(TokenREST(
        _generator(options), list(options.api_audiences),
        int(options.service_account_max_token_expiration),
        options.service_account_extend_token_expiration))


@hookimpl
def kernel_subresources():
    return {"serviceaccounts/token": _token_subresource}


def _authenticator(context):
    from kernel_authn_serviceaccount.authenticator import (ServiceAccountAuthenticator,
                                                           service_account_user)
    from kernel_authn_serviceaccount.getter import ObjectGetter
    from kernel_authn_serviceaccount.legacy import LegacyValidator

    options = context.options
    getter = ObjectGetter(context)
    client = context.loopback_client("serviceaccount-legacy-token-tracking")

    async def label_last_used(namespace: str, name: str, uid: str, day: str) -> None:
        from kernel_authn_serviceaccount.legacy import LAST_USED_LABEL

        await client.patch(f"/api/v1/namespaces/{namespace}/secrets/{name}",
                           {"metadata": {"uid": uid, "labels": {LAST_USED_LABEL: day}}})

    legacy = LegacyValidator(getter, service_account_user, label_last_used)
    return ServiceAccountAuthenticator(options.service_account_issuer, options.service_account_keys,
                                       options.api_audiences, getter, legacy)


@hookimpl
def kernel_authenticators():
    return {NAME: _authenticator}


@hookimpl
def kernel_routes(context):
    from kernel_authn_serviceaccount.discovery import (create_routes, default_jwks_uri,
                                                       discovery_error)

    options = context.options
    issuer = options.service_account_issuer[0]
    why = discovery_error(issuer, options.service_account_jwks_uri)
    if why:  # kube serves no discovery for an issuer that is not an https URL
        context.logger("kernel_authn_serviceaccount").warning(
            "service account issuer discovery is disabled: %s", why)
        return {}

    def jwks_uri() -> str:  # the port is known once serving (--secure-port=0 picks one)
        return options.service_account_jwks_uri or default_jwks_uri(options.advertise_address,
                                                                    context.secure_port)

    return create_routes(issuer, jwks_uri, options.service_account_keys)


async def _start_tokens_controller(context) -> None:
    from kernel.server.certs import trust_anchor_pem
    from kernel_authn_serviceaccount.tokens_controller import TokensController, legacy_generator

    controller = TokensController(context, legacy_generator(context.options.service_account_keys),
                                  trust_anchor_pem(context.options.serving).decode())
    controller.start()
    context.spawn("tokens-controller", controller.run)


@hookimpl
def kernel_post_start_hooks(context):
    return {"start-tokens-controller": _start_tokens_controller}
