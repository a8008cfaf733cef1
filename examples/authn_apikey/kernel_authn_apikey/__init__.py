"""authn_apikey: an example out-of-tree authenticator (API keys from ``--apikey-file``)."""

from __future__ import annotations

from kernel import hookimpl
from kernel.plugins import configured_by

from kernel_authn_apikey.keyfile import ApiKeyAuthenticator, KeyFileError


@hookimpl
def kernel_add_options(options):
    options.add("apikey-file", default="",
                help="File of API keys accepted in the X-Api-Key header (key,user,group1|group2 a line).")


@hookimpl
def kernel_validate_options(options):
    if not options.apikey_file:
        return []
    try:
        ApiKeyAuthenticator.from_file(options.apikey_file)
    except KeyFileError as error:
        return [f"--apikey-file: {error}"]
    return []


@configured_by("apikey-file")
def _authenticator(context) -> ApiKeyAuthenticator:
    return ApiKeyAuthenticator.from_file(context.options.apikey_file)


@hookimpl
def kernel_authenticators():
    return {"apikey": _authenticator}
