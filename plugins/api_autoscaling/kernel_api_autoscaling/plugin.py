"""The api_autoscaling plugin's hook: autoscaling/v2 and autoscaling/v1, one storage."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_autoscaling import hpa_v1_spec, hpa_v2_spec


@hookimpl
def kernel_api_groups():
    return {"autoscaling/v2": lambda context: APIGroup("autoscaling", "v2", [hpa_v2_spec]),
            "autoscaling/v1": lambda context: APIGroup("autoscaling", "v1", [hpa_v1_spec])}
