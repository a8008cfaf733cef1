"""authn_token: static bearer tokens from kube's ``--token-auth-file`` CSV (see :mod:`.tokenfile`)."""

from __future__ import annotations

from kernel import hookimpl
from kernel.plugins import configured_by

from kernel_authn_token.tokenfile import TokenFileAuthenticator, TokenFileError


@hookimpl
def kernel_add_options(options):
    options.add("token-auth-file", default="",
                help="If set, the file that will be used to secure the secure port of the API "
                     'server via token authentication (CSV: token,user,uid,"group1,group2").')


@hookimpl
def kernel_validate_options(options):
    if not options.token_auth_file:
        return []
    try:
        TokenFileAuthenticator.from_file(options.token_auth_file)
    except TokenFileError as error:
        return [f"--token-auth-file: {error}"]
    return []


@configured_by("token-auth-file")
def _authenticator(context) -> TokenFileAuthenticator | None:
    path = context.options.token_auth_file
    return TokenFileAuthenticator.from_file(path) if path else None


@hookimpl
def kernel_authenticators():
    return {"token-file": _authenticator}
