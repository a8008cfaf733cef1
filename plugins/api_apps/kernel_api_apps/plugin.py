"""The api_apps plugin's hook: the apps/v1 API group."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_apps import RESOURCES


@hookimpl
def kernel_api_groups():
    return {"apps/v1": lambda context: APIGroup("apps", "v1", RESOURCES)}
