"""persistentvolumes and persistentvolumeclaims: phase Pending on create, status via /status,
the printPersistentVolume(Claim) columns."""

from __future__ import annotations

from typing import Any

from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, TableColumn
from kernel_api_core._generic import SpecStatusStrategy
from kernel_api_core.types import CORE_V1

PV_DESCRIPTION = ("PersistentVolume (PV) is a storage resource provisioned by an administrator. It is "
                  "analogous to a node. More info: "
                  "https://kubernetes.io/docs/concepts/storage/persistent-volumes")
PVC_DESCRIPTION = "PersistentVolumeClaim is a user's request for and claim to a persistent volume"
#: helper.GetAccessModesAsString's abbreviations, in its order.
ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                ("ReadWriteOncePod", "RWOP"))
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
UNSET = "<unset>"


def _spec(obj: Object) -> Object:
    return obj.get("spec") or {}


def access_modes(modes: Any) -> str:
    modes = modes or []
    return ",".join(short for mode, short in ACCESS_MODES if mode in modes)


def storage_class(obj: Object) -> str:
    """GetPersistentVolume(Claim)Class: the beta annotation wins over spec.storageClassName."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if BETA_CLASS_ANNOTATION in annotations:
        return annotations[BETA_CLASS_ANNOTATION]
    return _spec(obj).get("storageClassName") or ""


def phase(obj: Object) -> str:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    return (obj.get("status") or {}).get("phase") or ""


def default_pv(pv: Object) -> None:
    spec = pv.setdefault("spec", {})
    spec["persistentVolumeReclaimPolicy"] = spec.get("persistentVolumeReclaimPolicy") or "Retain"
    spec["volumeMode"] = spec.get("volumeMode") or "Filesystem"
    status = pv.setdefault("status", {})
    status["phase"] = status.get("phase") or "Pending"


def default_pvc(pvc: Object) -> None:
    spec = pvc.setdefault("spec", {})
    spec["volumeMode"] = spec.get("volumeMode") or "Filesystem"
    status = pvc.setdefault("status", {})
    status["phase"] = status.get("phase") or "Pending"


def _claim(pv: Object) -> str:
    ref = _spec(pv).get("claimRef")
    return f"{ref.get('namespace') or ''}/{ref.get('name') or ''}" if ref else ""


def _pvc_cells(pvc: Object) -> dict[str, str]:
    spec = _spec(pvc)
    if not spec.get("volumeName"):
        return {"capacity": "", "modes": ""}
    status = pvc.get("status") or {}
    return {"capacity": str((status.get("capacity") or {}).get("storage") or "0"),
            "modes": access_modes(status.get("accessModes"))}


PV_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Capacity", "string", lambda o: str((_spec(o).get("capacity") or {}).get("storage") or "0"),
                description="capacity is the description of the persistent volume's resources and capacity."),
    TableColumn("Access Modes", "string", lambda o: access_modes(_spec(o).get("accessModes")),
                description="accessModes contains all ways the volume can be mounted."),
    TableColumn("Reclaim Policy", "string", lambda o: _spec(o).get("persistentVolumeReclaimPolicy") or "",
                description="persistentVolumeReclaimPolicy defines what happens to a persistent volume when "
                            "released from its claim."),
    TableColumn("Status", "string", phase,
                description="phase indicates if a volume is available, bound to a claim, or released by a "
                            "claim."),
    TableColumn("Claim", "string", _claim,
                description="claimRef is part of a bi-directional binding between PersistentVolume and "
                            "PersistentVolumeClaim."),
    TableColumn("StorageClass", "string", storage_class, description="StorageClass of the pv"),
    TableColumn("VolumeAttributesClass", "string",
                lambda o: _spec(o).get("volumeAttributesClassName") or UNSET,
                description="VolumeAttributesClass of the pv"),
    TableColumn("Reason", "string", lambda o: (o.get("status") or {}).get("reason") or "",
                description="reason is a brief CamelCase string that describes any failure and is meant "
                            "for machine parsing and tidy display in the CLI."),
    AGE_COLUMN,
    TableColumn("VolumeMode", "string", lambda o: _spec(o).get("volumeMode") or UNSET, priority=1,
                description="volumeMode defines if a volume is intended to be used with a formatted "
                            "filesystem or to remain in raw block state."),
)

PVC_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Status", "string", phase,
                description="phase represents the current phase of PersistentVolumeClaim."),
    TableColumn("Volume", "string", lambda o: _spec(o).get("volumeName") or "",
                description="volumeName is the binding reference to the PersistentVolume backing this claim."),
    TableColumn("Capacity", "string", lambda o: _pvc_cells(o)["capacity"],
                description="capacity represents the actual resources of the underlying volume."),
    TableColumn("Access Modes", "string", lambda o: _pvc_cells(o)["modes"],
                description="accessModes contains the actual access modes the volume backing the PVC has."),
    TableColumn("StorageClass", "string", storage_class, description="StorageClass of the pvc"),
    TableColumn("VolumeAttributesClass", "string",
                lambda o: _spec(o).get("volumeAttributesClassName") or UNSET,
                description="VolumeAttributesClass of the pvc"),
    AGE_COLUMN,
    TableColumn("VolumeMode", "string", lambda o: _spec(o).get("volumeMode") or UNSET, priority=1,
                description="volumeMode defines what type of volume is required by the claim."),
)

_PV = SpecStatusStrategy(defaults=default_pv, initial_status={})
_PVC = SpecStatusStrategy(defaults=default_pvc, initial_status={})

persistentvolume_spec = ResourceSpec(
    group="", version="v1", kind="PersistentVolume", plural="persistentvolumes", singular="persistentvolume",
    namespaced=False,
    **CORE_V1.spec_fields("PersistentVolume"),
    short_names=("pv",), subresources=("status",), strategy=_PV,
    subresource_strategies={"status": _PV.status_strategy()},
    table_columns=PV_COLUMNS, description=PV_DESCRIPTION,
)

persistentvolumeclaim_spec = ResourceSpec(
    group="", version="v1", kind="PersistentVolumeClaim", plural="persistentvolumeclaims",
    singular="persistentvolumeclaim", namespaced=True,
    **CORE_V1.spec_fields("PersistentVolumeClaim"),
    short_names=("pvc",), subresources=("status",), strategy=_PVC,
    subresource_strategies={"status": _PVC.status_strategy()},
    table_columns=PVC_COLUMNS, description=PVC_DESCRIPTION,
)
