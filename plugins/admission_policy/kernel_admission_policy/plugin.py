"""The admission_policy plugin's hooks: the ``ValidatingAdmissionPolicy`` admission plugin
(on by default) and the controller that writes each policy's type-checking status."""

from __future__ import annotations

from kernel import hookimpl
from kernel.admission import default_enabled

from .admission import NAME, validating_admission_policy
from .status import run_status_controller


@hookimpl
def kernel_admission_plugins():
    return {NAME: default_enabled(validating_admission_policy)}


@hookimpl
def kernel_post_start_hooks(context):
    return {"start-validating-admission-policy-status-controller": run_status_controller}
