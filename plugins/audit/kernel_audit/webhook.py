"""The audit webhook backend (plugin/pkg/audit/webhook): batches of events POSTed as an
audit.k8s.io/v1 ``EventList`` to the service a kubeconfig file names, with its flags.

As kube: every failure is retried (a lost audit event is worse than a repeated POST), with
``--audit-webhook-initial-backoff`` growing x1.5 with 20% jitter, 5 attempts, each request
bounded by 30 s; a batch that still fails is counted in ``apiserver_audit_error_total
{plugin="webhook"}`` and logged. ``--audit-webhook-mode`` wraps it (kernel_audit.batch): batch
(the default) buffers and sends in the background.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import trio

from kernel.server.options import non_negative_duration
from kernel_audit import batch
from kernel_audit.batch import BatchConfig, BufferedBackend, Event, UnbatchedBackend

log = logging.getLogger("kernel.audit.webhook")

PLUGIN_NAME = "webhook"
VERSION = "audit.k8s.io/v1"
KNOWN_VERSIONS = (VERSION,)
REQUEST_TIMEOUT = 30.0  # kube's for webhooks loaded from a kubeconfig
INITIAL_BACKOFF = 10.0

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Backoff:
    """wait.Backoff: the first delay, its growth, its random spread, the attempts."""

    duration: float = INITIAL_BACKOFF
    factor: float = 1.5
    jitter: float = 0.2
    steps: int = 5


class WebhookError(Exception):
    pass


def _describe(error: BaseException) -> str:
    """The error's type and the first message found down its causes (httpx's are often empty)."""
    seen: BaseException | None = error
    while seen is not None:
        if str(seen):
            return f"{type(error).__name__}: {seen}"
        seen = seen.__cause__ or seen.__context__
    return f"{type(error).__name__}: connection closed"


def event_list(events: Sequence[Event], version: str = VERSION) -> bytes:
    """The body of one POST: kube's EventList of ``events``."""
    return _encode({"kind": "EventList", "apiVersion": version, "metadata": {}, "items": events})


class WebhookDelegate:
    """Sends one batch (a batch.Delegate): POST, retried on any error."""

    name = PLUGIN_NAME

    def __init__(self, client: Any, version: str = VERSION, backoff: Backoff = Backoff(),
                 timeout: float = REQUEST_TIMEOUT) -> None:
        self.client = client  # a kubeconfig ClientConfig: server, ssl_context(), token, server_name
        self.version = version
        self.backoff = backoff
        self.timeout = timeout
        self._ssl = client.ssl_context()
        self._http: httpx.AsyncClient | None = None  # made in the event loop that uses it

    def __repr__(self) -> str:
        return f"WebhookDelegate({self.client.server!r})"

    async def send(self, events: Sequence[Event]) -> None:
        body = event_list(events, self.version)
        delay = self.backoff.duration
        for attempt in range(1, self.backoff.steps + 1):
            try:
                await self._post(body)
                return
            except WebhookError as error:
                if attempt == self.backoff.steps:
                    raise
                log.info("audit webhook: attempt %d of %d events failed, retrying: %s",
                         attempt, len(events), error)
            await trio.sleep(delay * (1 + random.random() * self.backoff.jitter))
            delay *= self.backoff.factor

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"Accept": "application/json", "Content-Type": "application/json"}
            if self.client.token:
                headers["Authorization"] = f"Bearer {self.client.token}"
            # no cap on connections, as Go's transport: batches held by a slow webhook must not
            # queue behind each other in the pool (the throttle bounds how many start)
            self._http = httpx.AsyncClient(verify=self._ssl, headers=headers, timeout=self.timeout,
                                           follow_redirects=False,
                                           limits=httpx.Limits(max_connections=None, max_keepalive_connections=20))
        return self._http

    async def _post(self, body: bytes) -> None:
        extensions = {"sni_hostname": self.client.server_name} if self.client.server_name else None
        try:
            response = await self._http_client().post(self.client.server, content=body,
                                                      extensions=extensions)
        except httpx.HTTPError as error:
            raise WebhookError(_describe(error)) from None
        if not 200 <= response.status_code < 300:
            raise WebhookError(f"the audit webhook answered HTTP {response.status_code}: "
                               f"{response.text[:200]}")

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def _load_client(path: str) -> Any:
    """The webhook's connection from its kubeconfig file (KubeconfigError: why it cannot be used)."""
    from kernel_authz_webhook.kubeconfig import load

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
    delegate = WebhookDelegate(_load_client(options.audit_webhook_config_file),
                               options.audit_webhook_version,
                               Backoff(duration=_initial_backoff(options)))
    return batch.wrap(delegate, options.audit_webhook_mode, batch.batch_config(options, PLUGIN_NAME),
                      registry, shutdown_timeout)


def webhook_backend(context: Any) -> BufferedBackend | UnbatchedBackend | None:
    """The webhook backend for the server, or None without --audit-webhook-config-file."""
    options = context.options
    if not options.audit_webhook_config_file:
        return None
    backend = build(options, context.metrics.registry)
    context.logger("kernel.audit.webhook").info(
        "audit webhook backend: %r to %s (%s)", backend, backend.delegate.client.server,
        options.audit_webhook_version)
    return backend


__all__ = ["add_webhook_options", "webhook_option_errors", "webhook_backend", "WebhookDelegate",
           "Backoff", "BatchConfig", "event_list"]
