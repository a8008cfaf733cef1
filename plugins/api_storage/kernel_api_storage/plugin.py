"""The api_storage plugin's hook: the storage.k8s.io/v1 group."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_storage import RESOURCES


@hookimpl
def kernel_api_groups():
    return {"storage.k8s.io/v1": lambda context: APIGroup("storage.k8s.io", "v1", RESOURCES)}
