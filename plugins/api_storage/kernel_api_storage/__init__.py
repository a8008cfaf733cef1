"""storage.k8s.io/v1: storageclasses, csidrivers, csinodes, volumeattachments (+status)."""

from __future__ import annotations

from kernel_api_storage.kinds import csidriver_spec, csinode_spec, storageclass_spec, volumeattachment_spec

RESOURCES = [csidriver_spec, csinode_spec, storageclass_spec, volumeattachment_spec]

__all__ = ["RESOURCES", "csidriver_spec", "csinode_spec", "storageclass_spec", "volumeattachment_spec"]
