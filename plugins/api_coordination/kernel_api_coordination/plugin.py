"""The api_coordination plugin's hook: the coordination.k8s.io/v1 group."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_coordination import RESOURCES


@hookimpl
def kernel_api_groups():
    return {"coordination.k8s.io/v1": lambda context: APIGroup("coordination.k8s.io", "v1", RESOURCES)}
