"""apiregistration.k8s.io/v1: APIServices, and the aggregator in front of the server chain."""

from __future__ import annotations

from kernel_api_apiregistration.apiservice import apiservice_spec

RESOURCES = [apiservice_spec]

__all__ = ["RESOURCES", "apiservice_spec"]
