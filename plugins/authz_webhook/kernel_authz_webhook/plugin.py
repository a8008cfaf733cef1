"""authz_webhook's hooks: the --authorization-webhook-* flags, their validation (and that of the
Webhook entries of --authorization-config), and the ``Webhook`` mode's factory.

One factory builds every Webhook of the chain: it reads the entry it is building from
``context.authorizer_config`` (an entry of --authorization-config carries its own ``webhook``
settings; the entry of --authorization-mode=Webhook has none, and the flags give them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel import hookimpl
from kernel.authorization import Decision
from kernel.server import authorizationconfig
from kernel.server.authorizationconfig import WEBHOOK, AuthorizationConfiguration, WebhookConfiguration
from kernel.server.options import non_negative_duration

if TYPE_CHECKING:
    from kernel_authz_webhook.authorizer import WebhookAuthorizer

VERSIONS = ("v1", "v1beta1")
#: kube's request timeout for a webhook configured by flags.
FLAGS_TIMEOUT = 30.0


@hookimpl
def kernel_add_options(options):
    add = options.add
    add("authorization-webhook-config-file", default="",
        help="File with webhook configuration in kubeconfig format, used with "
             "--authorization-mode=Webhook. The API server will query the remote service to "
             "determine access on the API server's secure port.")
    add("authorization-webhook-version", default="v1",
        help="The API version of the authorization.k8s.io SubjectAccessReview to send to and "
             "expect from the webhook (v1 or v1beta1).")
    add("authorization-webhook-cache-authorized-ttl", default=300.0, type=non_negative_duration,
        help="The duration to cache 'authorized' responses from the webhook authorizer.")
    add("authorization-webhook-cache-unauthorized-ttl", default=30.0, type=non_negative_duration,
        help="The duration to cache 'unauthorized' responses from the webhook authorizer.")


def _flags_errors(options: Any) -> list[str]:
    errors = []
    wanted = WEBHOOK in options.authorization_mode
    if wanted and not options.authorization_webhook_config_file:
        errors.append("--authorization-webhook-config-file: authorization-mode Webhook's "
                      "authorization config file not passed")
    if options.authorization_webhook_config_file and not wanted:
        errors.append("--authorization-webhook-config-file: cannot specify "
                      "--authorization-webhook-config-file without mode Webhook")
    if options.authorization_webhook_version not in VERSIONS:
        errors.append(f'--authorization-webhook-version: unsupported webhook authorizer version '
                      f'"{options.authorization_webhook_version}", supported versions are '
                      f'"v1", "v1beta1"')
    if wanted and options.authorization_webhook_config_file:
        errors += _kubeconfig_errors(options.authorization_webhook_config_file,
                                     "--authorization-webhook-config-file")
    return errors


def _kubeconfig_errors(path: str, where: str) -> list[str]:
    from kernel_webhook.kubeconfig import KubeconfigError, load

    try:
        load(path)
    except KubeconfigError as error:
        return [f"{where}: {error}"]
    return []


def _config_errors(config: AuthorizationConfiguration) -> list[str]:
    """What kube's load checks and the kernel cannot: CEL, and what this server does not do."""
    from kernel_authz_webhook.matchconditions import compile_one

    errors = []
    for i, entry in enumerate(config.authorizers):
        hook = entry.webhook
        if entry.type != WEBHOOK or hook is None:
            continue
        path = f"authorizers[{i}]"
        if hook.connection_type == authorizationconfig.IN_CLUSTER:
            errors.append(f"{path}.connectionInfo.type: Unsupported value: \"InClusterConfig\": "
                          "this server does not run in a cluster; use KubeConfigFile")
        elif hook.kubeconfig_file:
            errors += _kubeconfig_errors(hook.kubeconfig_file, f"{path}.connectionInfo.kubeConfigFile")
        for j, expression in enumerate(hook.match_conditions):
            if not expression.strip():
                continue  # the kernel reports it as required
            try:
                compile_one(expression)
            except ValueError as error:
                errors.append(f'{path}.matchConditions[{j}].expression: Invalid value: '
                              f'"{expression}": {error}')
    return errors


@hookimpl
def kernel_validate_options(options):
    if not options.authorization_config:
        return _flags_errors(options)
    try:
        config = authorizationconfig.load(options.authorization_config)
    except authorizationconfig.ConfigError:
        return []  # the kernel reports it
    return [f"--authorization-config: {e}" for e in _config_errors(config)]


def _from_flags(options: Any) -> WebhookConfiguration:
    """The entry kube makes of the legacy flags (a TTL of 0 turns that side of the cache off)."""
    return WebhookConfiguration(
        timeout=FLAGS_TIMEOUT, subject_access_review_version=options.authorization_webhook_version,
        failure_policy="NoOpinion", connection_type=authorizationconfig.KUBECONFIG_FILE,
        kubeconfig_file=options.authorization_webhook_config_file,
        authorized_ttl=options.authorization_webhook_cache_authorized_ttl,
        unauthorized_ttl=options.authorization_webhook_cache_unauthorized_ttl,
        cache_authorized_requests=options.authorization_webhook_cache_authorized_ttl > 0,
        cache_unauthorized_requests=options.authorization_webhook_cache_unauthorized_ttl > 0)


def build(name: str, hook: WebhookConfiguration, metrics: Any = None) -> WebhookAuthorizer:
    """A webhook authorizer from one entry's settings (``metrics``: a WebhookMetrics)."""
    from kernel_webhook import kubeconfig
    from kernel_authz_webhook.authorizer import Settings, WebhookAuthorizer
    from kernel_authz_webhook.matchconditions import MatchConditions

    settings = Settings(
        name=name, version=hook.subject_access_review_version, timeout=hook.timeout,
        authorized_ttl=hook.authorized_ttl if hook.cache_authorized_requests else 0.0,
        unauthorized_ttl=hook.unauthorized_ttl if hook.cache_unauthorized_requests else 0.0,
        decision_on_error=Decision.DENY if hook.failure_policy == "Deny" else Decision.NO_OPINION)
    conditions = MatchConditions(hook.match_conditions) if hook.match_conditions else None
    return WebhookAuthorizer(kubeconfig.load(hook.kubeconfig_file), settings, conditions, metrics)


def _webhook(context) -> WebhookAuthorizer:
    from kernel_authz_webhook.metrics import WebhookMetrics

    metrics = WebhookMetrics.of(context.metrics.registry)
    entry = context.authorizer_config
    if entry is not None and entry.webhook is not None:
        authorizer = build(entry.name, entry.webhook, metrics)
    else:
        authorizer = build(authorizationconfig.DEFAULT_WEBHOOK_NAME, _from_flags(context.options), metrics)
    context.logger("kernel.authz_webhook").info(
        "webhook authorizer %s: %s (SubjectAccessReview %s, failure policy %s)",
        authorizer.settings.name, authorizer.client_config.server, authorizer.settings.version,
        "Deny" if authorizer.settings.decision_on_error is Decision.DENY else "NoOpinion")
    return authorizer


@hookimpl
def kernel_authorizers():
    return {WEBHOOK: _webhook}
