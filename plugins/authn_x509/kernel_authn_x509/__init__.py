"""authn_x509: X509 client certificate authentication (kube's ``--client-ca-file``).

Hooks: the flag; its validation (a readable PEM bundle with at least one certificate); the
bundle appended to ``options.client_ca_files`` so TLS handshakes ask for and verify client
certificates; the ``x509`` authenticator; and a post-start hook that starts watching the file.
When the file changes, the new bundle is checked, then both the TLS context of new connections
(``context.tls``) and the authenticator switch to it; a bad file is logged and the old bundle stays.

The authenticator (and ``cryptography``, which verifies chains) is imported only when
--client-ca-file is given: a server without it does not load them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kernel import hookimpl
from kernel.plugins import configured_by

if TYPE_CHECKING:
    from kernel_authn_x509.authenticator import X509Authenticator

NAME = "x509"


@hookimpl
def kernel_add_options(options):
    options.add("client-ca-file", default="",
                help="If set, any request presenting a client certificate signed by one of the "
                     "authorities in the client-ca-file is authenticated with an identity "
                     "corresponding to the CommonName of the client certificate (groups: its "
                     "Organizations). Reloaded when the file changes.")


def _read_bundle(path: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"{path}: {error.strerror or error}") from None
    from kernel_authn_x509.authenticator import load_bundle

    load_bundle(data, path)
    return data


@hookimpl
def kernel_validate_options(options):
    if not options.client_ca_file:
        return []
    try:
        _read_bundle(options.client_ca_file)
    except ValueError as error:
        return [f"--client-ca-file: {error}"]
    return []


@hookimpl
def kernel_complete_options(options):
    if options.client_ca_file:
        options.client_ca_files.append(options.client_ca_file)


@configured_by("client-ca-file")
def _authenticator(context) -> X509Authenticator | None:
    path = context.options.client_ca_file
    if not path:
        return None
    content = _read_bundle(path)
    from kernel_authn_x509.authenticator import X509Authenticator, load_bundle

    return X509Authenticator(load_bundle(content, path), content)


@hookimpl
def kernel_authenticators():
    return {NAME: _authenticator}


@hookimpl
def kernel_post_start_hooks(context):
    authenticator: X509Authenticator | None = context.component("authenticators", NAME)
    if authenticator is None:
        return {}
    from kernel_authn_x509.reload import client_ca_reload_hook

    return client_ca_reload_hook("x509-client-ca-reload", context.options.client_ca_file,
                                 authenticator.content, context.tls, authenticator.set_roots)
