"""The api_scheduling plugin's hooks: the scheduling.k8s.io/v1 group and the post-start hook that
creates kube's system priority classes."""

from __future__ import annotations

from kernel import hookimpl
from kernel.context import ServerContext
from kernel.endpoints.apigroup import APIGroup

from kernel_api_scheduling import RESOURCES
from kernel_api_scheduling.priorityclasses import SYSTEM_PRIORITY_CLASSES

USER_AGENT = "kernel/bootstrap-system-priority-classes"
PATH = "/apis/scheduling.k8s.io/v1/priorityclasses"


@hookimpl
def kernel_api_groups():
    return {"scheduling.k8s.io/v1": lambda context: APIGroup("scheduling.k8s.io", "v1", RESOURCES)}


async def create_system_priority_classes(context: ServerContext) -> None:
    # Through the API, as kube's AddSystemPriorityClasses hook does: validation and admission
    # apply. As there, each is read first: a restart finds them without a refused create (and
    # without loading the write path).
    client = context.loopback_client(USER_AGENT)
    for name, (value, description) in SYSTEM_PRIORITY_CLASSES.items():
        await client.ensure(PATH, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                   "metadata": {"name": name}, "value": value,
                                   "description": description})


@hookimpl
def kernel_post_start_hooks(context):
    return {"scheduling/bootstrap-system-priority-classes": create_system_priority_classes}
