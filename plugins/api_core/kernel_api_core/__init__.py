"""The core API group (``""``, served under ``/api/v1``).

Each module describes one resource as a ``ResourceSpec`` (names, schema, strategy, printer
columns, selectable fields); the generic REST machinery serves them. ``plugin.py`` holds the
hooks: the API group (with the per-server services resource and its ClusterIP/NodePort
allocation), the NamespaceLifecycle admission plugin, the default namespaces and the namespace
controller.
"""

from __future__ import annotations

from kernel_api_core.componentstatuses import componentstatus_spec
from kernel_api_core.configmaps import configmap_spec
from kernel_api_core.controllers import podtemplate_spec, replicationcontroller_spec
from kernel_api_core.endpoints import endpoints_spec
from kernel_api_core.events import event_spec
from kernel_api_core.namespaces import namespace_spec
from kernel_api_core.nodes import node_spec
from kernel_api_core.persistentvolumes import persistentvolume_spec, persistentvolumeclaim_spec
from kernel_api_core.pods import pod_spec
from kernel_api_core.quotas import limitrange_spec, resourcequota_spec
from kernel_api_core.secrets import secret_spec
from kernel_api_core.serviceaccounts import serviceaccount_spec

#: Every resource but services, whose spec is made per server (services.make_service_spec).
RESOURCES = [namespace_spec, configmap_spec, secret_spec, pod_spec, node_spec, event_spec, endpoints_spec,
             serviceaccount_spec, persistentvolume_spec, persistentvolumeclaim_spec, limitrange_spec,
             resourcequota_spec, podtemplate_spec, replicationcontroller_spec, componentstatus_spec]

__all__ = ["RESOURCES", "componentstatus_spec", "configmap_spec", "endpoints_spec", "event_spec",
           "limitrange_spec", "namespace_spec", "node_spec", "persistentvolume_spec",
           "persistentvolumeclaim_spec", "pod_spec", "podtemplate_spec", "replicationcontroller_spec",
           "resourcequota_spec", "secret_spec", "serviceaccount_spec"]
