"""The apps/v1 API group: deployments, replicasets, statefulsets, daemonsets, controllerrevisions.

Each module describes one resource as a ``ResourceSpec``; ``podtemplate`` holds the pod template
rules the workloads share, ``workload`` the selector, int-or-percent and printer helpers, and
``scale`` how each kind declares its scale subresource. ``plugin.py`` holds the hook.
"""

from __future__ import annotations

from kernel_api_apps.controllerrevisions import controllerrevision_spec
from kernel_api_apps.daemonsets import daemonset_spec
from kernel_api_apps.deployments import deployment_spec
from kernel_api_apps.replicasets import replicaset_spec
from kernel_api_apps.statefulsets import statefulset_spec

RESOURCES = [deployment_spec, replicaset_spec, statefulset_spec, daemonset_spec, controllerrevision_spec]

__all__ = ["RESOURCES", "controllerrevision_spec", "daemonset_spec", "deployment_spec", "replicaset_spec",
           "statefulset_spec"]
