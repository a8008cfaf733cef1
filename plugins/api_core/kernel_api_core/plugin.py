"""The api_core plugin's hooks: the core v1 group (namespaces, configmaps, secrets), the
NamespaceLifecycle admission plugin, the default namespaces and the namespace controller."""

from __future__ import annotations

from kernel import hookimpl
from kernel.admission import default_enabled
from kernel.apigroup import APIGroup
from kernel.apimachinery import status
from kernel.context import ServerContext

from kernel_api_core import namespace_controller
from kernel_api_core.lifecycle import NamespaceLifecycle
from kernel_api_core import RESOURCES

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
BOOTSTRAP_USER_AGENT = "kernel/bootstrap-namespaces"


@hookimpl
def kernel_api_groups():
    return {"v1": lambda context: APIGroup("", "v1", RESOURCES)}


@hookimpl
def kernel_admission_plugins():
    return {"NamespaceLifecycle": default_enabled(NamespaceLifecycle)}


async def create_default_namespaces(context: ServerContext) -> None:
    # Through the API, as kube's bootstrap controller does: admission and validation apply.
    client = context.loopback_client(BOOTSTRAP_USER_AGENT)
    for name in DEFAULT_NAMESPACES:
        try:
            await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": name}})
        except status.StatusError as error:
            if error.code != 409:  # already there from an earlier start
                raise


@hookimpl
def kernel_post_start_hooks(context):
    return {"bootstrap-namespaces": create_default_namespaces,
            "start-namespace-controller": namespace_controller.run}
