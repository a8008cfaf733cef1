"""admission_webhook's hooks: the ``MutatingAdmissionWebhook`` and ``ValidatingAdmissionWebhook``
admission plugins, on by default as in kube. Their configurations come from informers of
admissionregistration.k8s.io (the ``api_admissionregistration`` plugin); without that group
served there is nothing to call and the plugins admit everything."""

from __future__ import annotations

import logging
from typing import Any

from kernel import hookimpl
from kernel.admission import Attributes, default_enabled
from kernel_webhook import service_resolver

from kernel_admission_webhook import manifests
from kernel_admission_webhook.dispatcher import GROUP, Configurations, Dispatcher
from kernel_admission_webhook.mutating import Defaulter, MutatingWebhooks
from kernel_admission_webhook.validating import ValidatingWebhooks

log = logging.getLogger("kernel.admission.webhook")


def _lookup(lookup: Any, *args: str) -> Any:
    try:
        return lookup(*args)
    except LookupError:  # the resource is not served by this build
        return None


@hookimpl
def kernel_add_options(options):
    options.add("admission-webhook-static-manifests-dir", default="",
                help="A directory of MutatingWebhookConfiguration and ValidatingWebhookConfiguration "
                     "manifests (YAML or JSON), read at startup: their webhooks run before those of the "
                     "API (kube's staticManifestsDir of the WebhookAdmission configuration).")


@hookimpl
def kernel_validate_options(options):
    directory = options.admission_webhook_static_manifests_dir
    if not directory:
        return []
    _, errors = manifests.load(directory)
    return [f"--admission-webhook-static-manifests-dir: {error}" for error in errors]


def _dispatcher(context: Any, resource: str, mutating: bool) -> Dispatcher:
    informer = _lookup(context.informer, GROUP, resource)
    if informer is None:
        log.warning("%s: %s.%s is not served (plugin api_admissionregistration): no webhooks will be called",
                    "MutatingAdmissionWebhook" if mutating else "ValidatingAdmissionWebhook", resource, GROUP)
    static = manifests.static_hooks(context.options.admission_webhook_static_manifests_dir, mutating)
    return Dispatcher(Configurations(informer, mutating, static), _lookup(context.informer, "", "namespaces"),
                      _lookup(context.store, "", "namespaces"),
                      service_resolver(context.loopback_client("kube-apiserver-admission")), context.authorize)


def _defaulter(context: Any) -> Defaulter:
    """The served resource's defaults, applied to an object a webhook patched (kube's
    ObjectDefaulter after a mutation): a sidecar container gets its defaulted fields."""
    def default(attributes: Attributes) -> None:
        store = _lookup(context.store, attributes.resource.group, attributes.resource.resource)
        if store is not None and attributes.object is not None and store.spec.kind == attributes.kind.kind:
            store.spec.strategy.default(attributes.object)
    return default


@default_enabled
def mutating_webhooks(context: Any) -> MutatingWebhooks:
    return MutatingWebhooks(_dispatcher(context, "mutatingwebhookconfigurations", True), _defaulter(context))


@default_enabled
def validating_webhooks(context: Any) -> ValidatingWebhooks:
    return ValidatingWebhooks(_dispatcher(context, "validatingwebhookconfigurations", False))


@hookimpl
def kernel_admission_plugins():
    return {"MutatingAdmissionWebhook": mutating_webhooks, "ValidatingAdmissionWebhook": validating_webhooks}
