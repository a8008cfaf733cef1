"""The audit webhook backend (plugin/pkg/audit/webhook): batches of events POSTed as an
audit.k8s.io/v1 ``EventList`` to the service a kubeconfig file names, with its flags.

As kube: every failure is retried (a lost audit event is worse than a repeated POST), with
``--audit-webhook-initial-backoff`` growing x1.5 with 20% jitter, 5 attempts, each request
bounded by 30 s (kernel_webhook's GenericWebhook: the kubeconfig, the POST, the backoff); a batch that still fails is counted in ``apiserver_audit_error_total
{plugin="webhook"}`` and logged. ``--audit-webhook-mode`` wraps it (kernel_audit.batch): batch
(the default) buffers and sends in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec

from kernel.server.options import non_negative_duration
from kernel_audit import batch
from kernel_audit.batch import BatchConfig, BufferedBackend, Event, UnbatchedBackend
from kernel_webhook import Backoff, GenericWebhook, WebhookError, with_backoff

log = logging.getLogger("kernel.audit.webhook")

PLUGIN_NAME = "webhook"
VERSION = "audit.k8s.io/v1"
KNOWN_VERSIONS = (VERSION,)
REQUEST_TIMEOUT = 30.0  # kube's for webhooks loaded from a kubeconfig
INITIAL_BACKOFF = 10.0

_encode = msgspec.json.Encoder().encode


def event_list(events: Sequence[Event], version: str = VERSION) -> bytes:
    """The body of one POST: kube's EventList of ``events``."""
    return _encode({"kind": "EventList", "apiVersion": version, "metadata": {}, "items": events})


def _always(error: Exception) -> bool:
    """kube's retryOnError for audit: every failure is worth another attempt."""
    return True


class WebhookDelegate:
    """Sends one batch (a batch.Delegate): one POST through kernel_webhook's GenericWebhook,
    retried on any error with its backoff."""

    name = PLUGIN_NAME

    def __init__(self, webhook: GenericWebhook, version: str = VERSION) -> None:
        self.webhook = webhook
        self.version = version

    def __repr__(self) -> str:
        return f"WebhookDelegate({self.webhook.server!r})"

    async def send(self, events: Sequence[Event]) -> None:
        body = event_list(events, self.version)
        await with_backoff(lambda: self._post(body), self.webhook.backoff, _always,
                           f"audit webhook ({len(events)} events)")

    async def _post(self, body: bytes) -> None:
        try:
            await self.webhook.post_once(body)
        except WebhookError as error:
            if 200 <= error.code < 300:  # kube reads no answer: any 2xx body means delivered
                return
            raise

    async def aclose(self) -> None:
        await self.webhook.aclose()


def _load_client(path: str) -> Any:
    """The webhook's connection from its kubeconfig file (KubeconfigError: why it cannot be used)."""
    from kernel_webhook.kubeconfig import load

    return load(path)


# --- flags: pkg/server/options/audit.go's AuditWebhookOptions -------------------------------------

def add_webhook_options(options: Any) -> None:
    add = options.add
    add("audit-webhook-config-file", default="",
        help="Path to a kubeconfig formatted file that defines the audit webhook configuration.")
    add("audit-webhook-initial-backoff", default=INITIAL_BACKOFF, type=non_negative_duration,
        help="The amount of time to wait before retrying the first failed request.")
    add("audit-webhook-batch-initial-backoff", default=INITIAL_BACKOFF, type=non_negative_duration,
        help="The amount of time to wait before retrying the first failed request. "
             "Deprecated, use --audit-webhook-initial-backoff instead.")
    add("audit-webhook-version", default=VERSION,
        help="API group and version used for serializing audit events written to webhook.")
    batch.add_batch_options(options, PLUGIN_NAME)


def _initial_backoff(options: Any) -> float:
    explicit = getattr(options, "explicit", set())
    if "audit-webhook-batch-initial-backoff" in explicit and "audit-webhook-initial-backoff" not in explicit:
        return options.audit_webhook_batch_initial_backoff
    return options.audit_webhook_initial_backoff


def _version_errors(text: str) -> list[str]:
    """kube's validateGroupVersionString (schema.ParseGroupVersion, then the known versions)."""
    if text.count("/") > 1:
        return [f"unexpected GroupVersion string: {text}"]
    if text not in KNOWN_VERSIONS:
        known = " ".join(f'"{version}"' for version in KNOWN_VERSIONS)
        return [f"invalid group version, allowed versions are [{known}]"]
    return []


def webhook_option_errors(options: Any) -> list[str]:
    """kube's AuditWebhookOptions.Validate (only with a config file), and the kubeconfig's
    load (kube fails on it at startup too, a step later)."""
    path = options.audit_webhook_config_file
    if not path:
        return []
    errors = batch.batch_option_errors(options, PLUGIN_NAME)
    errors += _version_errors(options.audit_webhook_version)
    try:
        _load_client(path)
    except ValueError as error:  # KubeconfigError
        errors.append(f"initializing audit webhook: {error}")
    return errors


def build(options: Any, registry: Any = None,
          shutdown_timeout: float = batch.SHUTDOWN_TIMEOUT) -> BufferedBackend | UnbatchedBackend:
    """The backend the flags describe, around a WebhookDelegate."""
    webhook = GenericWebhook(_load_client(options.audit_webhook_config_file), REQUEST_TIMEOUT,
                             Backoff(duration=_initial_backoff(options)))
    delegate = WebhookDelegate(webhook, options.audit_webhook_version)
    return batch.wrap(delegate, options.audit_webhook_mode, batch.batch_config(options, PLUGIN_NAME),
                      registry, shutdown_timeout)


def webhook_backend(context: Any) -> BufferedBackend | UnbatchedBackend | None:
    """The webhook backend for the server, or None without --audit-webhook-config-file."""
    options = context.options
    if not options.audit_webhook_config_file:
        return None
    backend = build(options, context.metrics.registry)
    context.logger("kernel.audit.webhook").info(
        "audit webhook backend: %r to %s (%s)", backend, backend.delegate.webhook.server,
        options.audit_webhook_version)
    return backend


__all__ = ["add_webhook_options", "webhook_option_errors", "webhook_backend", "WebhookDelegate",
           "BatchConfig", "event_list"]
