"""The admission_policy plugin's hooks: the ``ValidatingAdmissionPolicy`` admission plugin
(on by default) and the controller that writes each policy's type-checking status."""

from __future__ import annotations

from kernel import hookimpl
from kernel.admission import default_enabled

from . import manifests
from .admission import NAME, validating_admission_policy
from .status import run_status_controller

FLAG = "validating-admission-policy-static-manifests-dir"


@hookimpl
def kernel_add_options(options):
    options.add(FLAG, default="",
                help="A directory of ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding "
                     "manifests (.yaml, .yml, .json; names ending in .static.k8s.io, no params) in "
                     "force from startup beside those of the API: kube's staticManifestsDir of the "
                     "ValidatingAdmissionPolicy admission configuration.")


@hookimpl
def kernel_validate_options(options):
    directory = options.validating_admission_policy_static_manifests_dir
    if not directory:
        return []
    try:
        manifests.load(directory)
    except ValueError as error:
        return [f"--{FLAG}: {error}"]
    return []


@hookimpl
def kernel_admission_plugins():
    return {NAME: default_enabled(validating_admission_policy)}


@hookimpl
def kernel_post_start_hooks(context):
    return {"start-validating-admission-policy-status-controller": run_status_controller}
