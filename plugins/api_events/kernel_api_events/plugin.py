"""The api_events plugin's hook: the events.k8s.io/v1 group."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_events import RESOURCES


@hookimpl
def kernel_api_groups():
    return {"events.k8s.io/v1": lambda context: APIGroup("events.k8s.io", "v1", RESOURCES)}
