"""apiextensions.k8s.io/v1: CustomResourceDefinitions, and the custom resources they define
served while the server runs."""

from __future__ import annotations

from kernel_api_apiextensions.customresourcedefinitions import crd_spec

RESOURCES = [crd_spec]

__all__ = ["RESOURCES", "crd_spec"]
