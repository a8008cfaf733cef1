"""kube's k8s.io/apiserver/pkg/util/webhook for the kernel's plugins: a webhook's client
configuration (``url`` or ``service``, ``caBundle``) validated as kube does, services resolved
through their endpoints, and :func:`post`, one JSON call with kube's error classification. Used by
admission webhooks and CRD conversion webhooks.

The webhooks configured by a kubeconfig file (authorization, token authentication, audit) use
:class:`GenericWebhook` (:mod:`kernel_webhook.generic`): the file loaded by
:mod:`kernel_webhook.kubeconfig`, retries with kube's :class:`Backoff`."""

from kernel_webhook.client import ClientPool, Resolver, post, service_resolver, timeout_query
from kernel_webhook.config import (ClientConfig, ServiceReference, validate_client_config, validate_service,
                                   validate_url)
from kernel_webhook.backoff import DEFAULT_BACKOFF, Backoff, with_backoff
from kernel_webhook.errors import CallError, generic_server_response, status_of_response
from kernel_webhook.generic import GenericWebhook, WebhookError
from kernel_webhook.kubeconfig import KubeconfigError
from kernel_webhook.resolve import ResolveError, Target, resolve

__all__ = ["DEFAULT_BACKOFF", "Backoff", "CallError", "ClientConfig", "ClientPool", "GenericWebhook",
           "KubeconfigError", "ResolveError", "Resolver", "ServiceReference", "Target",
           "generic_server_response", "post", "resolve", "service_resolver", "status_of_response",
           "timeout_query", "validate_client_config", "validate_service", "validate_url", "WebhookError", "with_backoff"]
