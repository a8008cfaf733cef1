"""The api_batch plugin's hook: the batch/v1 API group."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_batch import RESOURCES


@hookimpl
def kernel_api_groups():
    return {"batch/v1": lambda context: APIGroup("batch", "v1", RESOURCES)}
