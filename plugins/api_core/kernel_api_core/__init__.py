"""The core API group's (``""``, served under ``/api/v1``) namespaces, configmaps and secrets.

Each module describes one resource as a ``ResourceSpec`` (names, schema, strategy, printer
columns); the generic REST machinery serves them. ``plugin.py`` holds the hooks: the API group,
the NamespaceLifecycle admission plugin, the default namespaces and the namespace controller.
"""

from __future__ import annotations

from kernel_api_core.configmaps import configmap_spec
from kernel_api_core.namespaces import namespace_spec
from kernel_api_core.secrets import secret_spec

RESOURCES = [namespace_spec, configmap_spec, secret_spec]

__all__ = ["RESOURCES", "configmap_spec", "namespace_spec", "secret_spec"]
