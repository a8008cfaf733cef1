"""authn_bootstrap: bootstrap tokens (``--enable-bootstrap-token-auth``), kube's TLS-bootstrapping
bearer tokens kept as Secrets in kube-system (see :mod:`.authenticator`)."""

from __future__ import annotations

from kernel import hookimpl
from kernel.plugins import configured_by
from kernel.server.options import boolean

from kernel_authn_bootstrap.authenticator import BootstrapTokenAuthenticator

NAME = "bootstrap-token"


@hookimpl
def kernel_requires():
    return ["api_core"]  # the secrets


@hookimpl
def kernel_add_options(options):
    options.add("enable-bootstrap-token-auth", default=False, type=boolean,
                help="Enable to allow secrets of type 'bootstrap.kubernetes.io/token' in the "
                     "'kube-system' namespace to be used for TLS bootstrapping authentication.")


@configured_by("enable-bootstrap-token-auth")
def _authenticator(context) -> BootstrapTokenAuthenticator | None:
    if not context.options.enable_bootstrap_token_auth:
        return None
    return BootstrapTokenAuthenticator(context.informer("", "secrets"))


@hookimpl
def kernel_authenticators():
    return {NAME: _authenticator}
