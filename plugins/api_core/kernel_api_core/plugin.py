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
from kernel_api_core.namespace_controller import CONTROLLER
from kernel_api_core import RESOURCES

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@hookimpl
def kernel_api_groups():
    return {"v1": lambda context: APIGroup("", "v1", RESOURCES)}


@hookimpl
def kernel_admission_plugins():
    return {"NamespaceLifecycle": default_enabled(NamespaceLifecycle)}


async def create_default_namespaces(context: ServerContext) -> None:
    namespaces = context.store("", "namespaces")
    for name in DEFAULT_NAMESPACES:
        try:
            await namespaces.create("", {"metadata": {"name": name}}, CONTROLLER)
        except status.StatusError as error:
            if error.code != 409:  # already there from an earlier start
                raise


@hookimpl
def kernel_post_start_hooks(context):
    return {"bootstrap-namespaces": create_default_namespaces,
            "start-namespace-controller": namespace_controller.run}
