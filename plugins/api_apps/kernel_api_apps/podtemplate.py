"""The pod template rules every workload shares: api_core's pod spec defaulting and validation
(kube's SetDefaults_PodSpec / ValidatePodTemplateSpec run the pod's own rules on a template).

api_apps needs the kernel-api-core distribution installed for these (not the api_core plugin
selected): the rules are code, the pods resource is not served through them.
"""

from __future__ import annotations

from typing import Any

from kernel.apimachinery import validation
from kernel.apimachinery.validation import FieldError
from kernel_api_core.pods import default_pod_spec, validate_pod_spec

Object = dict[str, Any]

__all__ = ["default_pod_spec", "default_template", "validate_pod_spec", "validate_template"]


def default_template(template: Object | None) -> None:
    if isinstance(template, dict):
        if not isinstance(template.get("spec"), dict):
            template["spec"] = {}
        default_pod_spec(template["spec"])


def validate_template(template: Object | None, path: str) -> list[FieldError]:
    """ValidatePodTemplateSpec: the template's labels and annotations, then its pod spec.

    kube checks the labels at ``<path>.labels`` (not ``.metadata.labels``); so do we.
    """
    if not isinstance(template, dict):
        return [FieldError.required(path, "")]
    meta = template.get("metadata") or {}
    errs = validation.validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validation.validate_annotations(meta.get("annotations"), f"{path}.annotations")
    return errs + validate_pod_spec(template.get("spec") or {}, f"{path}.spec")
