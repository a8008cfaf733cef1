"""The api_policy plugin's hook: the policy/v1 group."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_policy import RESOURCES


@hookimpl
def kernel_api_groups():
    return {"policy/v1": lambda context: APIGroup("policy", "v1", RESOURCES)}
