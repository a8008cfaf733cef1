"""authn_requestheader: kube's request-header (front-proxy) authenticator.

Hooks: the ``--requestheader-*`` flags and their validation; the request-header CA appended to
``options.client_ca_files`` so TLS handshakes ask for and accept front-proxy certificates (the
authenticator, not the handshake, decides they are trusted for headers: the x509 authenticator
keeps its own roots); the ``requestheader`` authenticator; and a post-start hook that watches the
CA file: a changed bundle that parses replaces both the TLS context's copy and the authenticator's
roots (a bad one is logged and the old bundle stays), as kube's dynamic CA content does. With it a ``kernel serve`` can
sit behind an aggregator (plugins/api_apiregistration) as an aggregated API server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kernel import hookimpl
from kernel.plugins import configured_by
from kernel.server.options import string_list

if TYPE_CHECKING:
    from kernel_authn_requestheader.authenticator import RequestHeaderAuthenticator

# The authenticator and the bundle loader import cryptography (~9 MB of RSS): only with
# --requestheader-client-ca-file, as authn_x509 does with --client-ca-file.

NAME = "requestheader"


@hookimpl
def kernel_add_options(options):
    add = options.add
    add("requestheader-client-ca-file", default="",
        help="Root certificate bundle to use to verify client certificates on incoming requests "
             "before trusting usernames in headers specified by --requestheader-username-headers.")
    add("requestheader-allowed-names", default=[], type=string_list,
        help="List of client certificate common names to allow to provide usernames in headers "
             "specified by --requestheader-username-headers. If empty, any client certificate "
             "validated by the authorities in --requestheader-client-ca-file is allowed.")
    add("requestheader-username-headers", default=["X-Remote-User"], type=string_list,
        help="List of request headers to inspect for usernames. The first one with a value wins.")
    add("requestheader-group-headers", default=["X-Remote-Group"], type=string_list,
        help="List of request headers to inspect for groups (every value of each).")
    add("requestheader-extra-headers-prefix", default=["X-Remote-Extra-"], type=string_list,
        help="List of request header prefixes to inspect; the rest of the header name, "
             "lower-cased and percent-decoded, is a user extra key.")


def _roots(path: str):
    from kernel_authn_x509.authenticator import load_bundle
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"{path}: {error.strerror or error}") from None
    return load_bundle(data, path)


@hookimpl
def kernel_validate_options(options):
    if not options.requestheader_client_ca_file:
        return []
    errors = []
    try:
        _roots(options.requestheader_client_ca_file)
    except ValueError as error:
        errors.append(f"--requestheader-client-ca-file: {error}")
    if not [h for h in options.requestheader_username_headers if h]:
        errors.append("--requestheader-username-headers: at least one header is required")
    return errors


@hookimpl
def kernel_complete_options(options):
    if options.requestheader_client_ca_file:
        options.client_ca_files.append(options.requestheader_client_ca_file)


@configured_by("requestheader-client-ca-file")
def _authenticator(context) -> RequestHeaderAuthenticator | None:
    options = context.options
    if not options.requestheader_client_ca_file:
        return None
    from kernel_authn_requestheader.authenticator import RequestHeaderAuthenticator
    path = options.requestheader_client_ca_file
    authenticator = RequestHeaderAuthenticator(
        _roots(path), options.requestheader_allowed_names,
        options.requestheader_username_headers, options.requestheader_group_headers,
        options.requestheader_extra_headers_prefix)
    authenticator.content = Path(path).read_bytes()
    return authenticator


@hookimpl
def kernel_authenticators():
    return {NAME: _authenticator}


@hookimpl
def kernel_post_start_hooks(context):
    authenticator: RequestHeaderAuthenticator | None = context.component("authenticators", NAME)
    if authenticator is None:
        return {}
    from kernel_authn_x509.reload import client_ca_reload_hook

    def set_roots(roots, content: bytes) -> None:
        authenticator.roots, authenticator.content = roots, content

    return client_ca_reload_hook("requestheader-client-ca-reload",
                                 context.options.requestheader_client_ca_file,
                                 authenticator.content, context.tls, set_roots)
