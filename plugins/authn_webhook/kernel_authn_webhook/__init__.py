"""authn_webhook: bearer tokens checked by a remote TokenReview webhook (kube's
``--authentication-token-webhook-*`` flags; see :mod:`.authenticator`).

The webhook's kubeconfig is read by :mod:`kernel_webhook.kubeconfig` and called through
:class:`kernel_webhook.generic.GenericWebhook`, as the Webhook authorizer's is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel import hookimpl
from kernel.plugins import configured_by
from kernel.server.options import non_negative_duration

if TYPE_CHECKING:  # httpx loads with the authenticator, only when a webhook is configured
    from kernel_authn_webhook.authenticator import WebhookTokenAuthenticator

NAME = "webhook"
VERSIONS = ("v1", "v1beta1")


@hookimpl
def kernel_add_options(options):
    add = options.add
    add("authentication-token-webhook-config-file", default="",
        help="File with webhook configuration for token authentication in kubeconfig format. The "
             "API server will query the remote service to determine authentication for bearer "
             "tokens.")
    add("authentication-token-webhook-version", default="v1beta1",
        help="The API version of the authentication.k8s.io TokenReview to send to and expect from "
             "the webhook (v1 or v1beta1).")
    add("authentication-token-webhook-cache-ttl", default=120.0, type=non_negative_duration,
        help="The duration to cache responses from the webhook token authenticator.")


@hookimpl
def kernel_validate_options(options):
    errors = []
    version = options.authentication_token_webhook_version
    if version not in VERSIONS:
        errors.append(f'--authentication-token-webhook-version: unsupported authentication webhook '
                      f'version "{version}", supported versions are "v1", "v1beta1"')
    path = options.authentication_token_webhook_config_file
    if path:
        from kernel_webhook.kubeconfig import KubeconfigError, load

        try:
            load(path)
        except KubeconfigError as error:
            errors.append(f"--authentication-token-webhook-config-file: {error}")
    return errors


@configured_by("authentication-token-webhook-config-file")
def _authenticator(context) -> WebhookTokenAuthenticator | None:
    from kernel_authn_webhook.authenticator import WebhookTokenAuthenticator
    from kernel_webhook.generic import GenericWebhook

    options = context.options
    if not options.authentication_token_webhook_config_file:
        return None
    authenticator = WebhookTokenAuthenticator(
        GenericWebhook.from_file(options.authentication_token_webhook_config_file),
        options.authentication_token_webhook_version, options.authentication_token_webhook_cache_ttl,
        options.api_audiences)
    context.logger("kernel.authn_webhook").info(
        "webhook token authenticator: %s (TokenReview %s, cache %ss)", authenticator.webhook.server,
        authenticator.version, options.authentication_token_webhook_cache_ttl)
    return authenticator


@hookimpl
def kernel_authenticators():
    return {NAME: _authenticator}
