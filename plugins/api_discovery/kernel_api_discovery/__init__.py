"""discovery.k8s.io/v1: endpointslices."""

from __future__ import annotations

from kernel_api_discovery.endpointslices import SERVICE_NAME_LABEL, endpointslice_spec

RESOURCES = [endpointslice_spec]

__all__ = ["RESOURCES", "SERVICE_NAME_LABEL", "endpointslice_spec"]
