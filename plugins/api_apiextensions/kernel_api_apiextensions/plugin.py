"""The api_apiextensions plugin's hooks: the apiextensions.k8s.io/v1 group, and the CRD
controllers started once the server listens."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_apiextensions import RESOURCES
from kernel_api_apiextensions.controller import CRDController

POST_START_HOOK = "start-apiextensions-controllers"


@hookimpl
def kernel_api_groups():
    return {"apiextensions.k8s.io/v1": lambda context: APIGroup("apiextensions.k8s.io", "v1", RESOURCES)}


async def start_controllers(context) -> None:
    """Run the CRD controllers; done (and /readyz passes) once the CRDs stored so far are served."""
    controller = CRDController(context)
    context.spawn("apiextensions-controllers", controller.run)
    await controller.synced.wait()


@hookimpl
def kernel_post_start_hooks(context):
    return {POST_START_HOOK: start_controllers}
