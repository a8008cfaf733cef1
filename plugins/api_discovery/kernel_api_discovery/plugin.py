"""The api_discovery plugin's hook: the discovery.k8s.io/v1 group."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_discovery import RESOURCES


@hookimpl
def kernel_api_groups():
    return {"discovery.k8s.io/v1": lambda context: APIGroup("discovery.k8s.io", "v1", RESOURCES)}
