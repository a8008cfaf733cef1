"""The api_admissionregistration plugin's hook: the admissionregistration.k8s.io/v1 group."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_admissionregistration import RESOURCES

GROUP = "admissionregistration.k8s.io"


@hookimpl
def kernel_api_groups():
    return {f"{GROUP}/v1": lambda context: APIGroup(GROUP, "v1", RESOURCES)}
