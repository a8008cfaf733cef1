"""admissionregistration.k8s.io/v1: the objects admission reads its configuration from.

The resources only: the admission plugins that act on them are other distributions
(admission_webhook, admission_policy), as kube keeps the registry apart from the admission
plugins.
"""

from __future__ import annotations

from kernel_api_admissionregistration.policies import binding_spec, policy_spec
from kernel_api_admissionregistration.webhookconfigurations import mutating_spec, validating_spec

RESOURCES = [mutating_spec, validating_spec, policy_spec, binding_spec]

__all__ = ["RESOURCES", "binding_spec", "mutating_spec", "policy_spec", "validating_spec"]
