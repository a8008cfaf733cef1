"""The api_apiregistration plugin's hooks: the group, the proxy client flags, the aggregator in
front of the kernel's handler, and the controllers (local APIServices, availability)."""

from __future__ import annotations

import weakref

import trio
from pathlib import Path

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_apiregistration import RESOURCES
from kernel_api_apiregistration.availability import AvailabilityController, register_local
from kernel_api_apiregistration.proxy import Aggregator

# One controller per server (tests run several in one process), shared by the aggregator and the
# post-start hook.
_controllers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@hookimpl
def kernel_add_options(options):
    options.add("proxy-client-cert-file", default="",
                help="Client certificate used to prove the identity of the aggregator or "
                     "kube-apiserver when it must call out during a request. This includes proxying "
                     "requests to a user api-server and calling out to webhook admission plugins. "
                     "It is expected that this cert includes a signature from the CA in the "
                     "--requestheader-client-ca-file flag of the backend.")
    options.add("proxy-client-key-file", default="",
                help="Private key for the client certificate of --proxy-client-cert-file.")


@hookimpl
def kernel_validate_options(options):
    cert, key = options.proxy_client_cert_file, options.proxy_client_key_file
    if bool(cert) != bool(key):
        return ["--proxy-client-cert-file: must be given together with --proxy-client-key-file"]
    errors = []
    for flag, path in (("proxy-client-cert-file", cert), ("proxy-client-key-file", key)):
        if path and not Path(path).is_file():
            errors.append(f"--{flag}: {path}: no such file")
    if cert and key and not errors:
        import ssl

        try:
            ssl.create_default_context().load_cert_chain(cert, key)
        except (ssl.SSLError, OSError) as error:
            errors.append(f"--proxy-client-cert-file: cannot load the certificate and key: {error}")
    return errors


@hookimpl
def kernel_api_groups():
    return {"apiregistration.k8s.io/v1":
            lambda context: APIGroup("apiregistration.k8s.io", "v1", RESOURCES)}


def _controller(context) -> AvailabilityController:
    controller = _controllers.get(context)
    if controller is None:
        options = context.options
        controller = _controllers[context] = AvailabilityController(
            context.loopback_client("kube-aggregator"), options.proxy_client_cert_file,
            options.proxy_client_key_file)
    return controller


@hookimpl
def kernel_api_aggregator(context, delegate):
    controller = _controller(context)
    return Aggregator(delegate, lambda: controller.backends,
                      context.signals.not_accepting_new_requests.wait)


@hookimpl
def kernel_post_start_hooks(context):
    controller = _controller(context)
    registered = trio.Event()

    async def autoregister(context) -> None:
        await register_local(context.loopback_client("kube-aggregator"))
        registered.set()

    async def available(context) -> None:
        await registered.wait()  # the first round sets the local APIServices Available
        # autoregistration has just registered them (no remote backend is known yet to differ)
        await controller.sync_all(register=False)
        context.spawn("apiservice-status-available-controller", controller.run)

    return {"kube-apiserver-autoregistration": autoregister,
            "apiservice-status-available-controller": available}
