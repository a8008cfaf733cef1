"""The api_networking plugin's hook: the networking.k8s.io/v1 group."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_networking import RESOURCES


@hookimpl
def kernel_api_groups():
    return {"networking.k8s.io/v1": lambda context: APIGroup("networking.k8s.io", "v1", RESOURCES)}
