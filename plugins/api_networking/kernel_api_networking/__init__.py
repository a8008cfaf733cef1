"""networking.k8s.io/v1: ingresses (+status), ingressclasses, networkpolicies."""

from __future__ import annotations

from kernel_api_networking.ingressclasses import ingressclass_spec
from kernel_api_networking.ingresses import ingress_spec
from kernel_api_networking.networkpolicies import networkpolicy_spec

RESOURCES = [ingressclass_spec, ingress_spec, networkpolicy_spec]

__all__ = ["RESOURCES", "ingress_spec", "ingressclass_spec", "networkpolicy_spec"]
