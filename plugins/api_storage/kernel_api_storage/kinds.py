"""The four storage.k8s.io/v1 kinds: defaulting (pkg/apis/storage/v1/defaults.go), validation
(pkg/apis/storage/validation) and printer columns as kube has them. All are cluster-scoped."""

from __future__ import annotations

import copy
from typing import Any

from kernel.apimachinery.validation import (FIELD_IMMUTABLE, FieldError, is_dns1123_subdomain, is_qualified_name,
                                            name_is_dns_subdomain)
from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, StatusStrategy, Strategy, TableColumn

from kernel_api_storage.types import TYPES

GROUP, VERSION = "storage.k8s.io", "v1"
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")
RECLAIM_POLICIES = ("Delete", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
FS_GROUP_POLICIES = ("File", "None", "ReadWriteOnceWithFSType")
LIFECYCLE_MODES = ("Ephemeral", "Persistent")
MAX_PARAMETERS = 512
MAX_PARAMETERS_SIZE = 256 * 1024


def _spec(obj: Object) -> Object:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _immutable(obj: Object, old: Object, path: str) -> list[FieldError]:
    """ValidateImmutableField on a dotted path."""
    new_value, old_value = obj, old
    for key in path.split("."):
        new_value = new_value.get(key) if isinstance(new_value, dict) else None
        old_value = old_value.get(key) if isinstance(old_value, dict) else None
    return [] if new_value == old_value else [FieldError.invalid(path, new_value, FIELD_IMMUTABLE)]


def _specs(kind: str, plural: str, description: str, strategy: Strategy, columns: tuple, **extra: Any) -> ResourceSpec:
    return ResourceSpec(
        group=GROUP, version=VERSION, kind=kind, plural=plural, singular=kind.lower(), namespaced=False,
        **TYPES.spec_fields(kind),
        strategy=strategy, table_columns=columns, description=description,
        **extra)


def _csi_driver_name(name: str, path: str) -> list[FieldError]:
    """ValidateCSIDriverName."""
    if not name:
        return [FieldError.required(path)]
    errs = [FieldError.too_long(path, "", 63)] if len(name) > 63 else []
    return errs + [FieldError.invalid(path, name, m) for m in is_dns1123_subdomain(name.lower())]


# --- storageclasses --------------------------------------------------------------------------

class StorageClassStrategy(Strategy):
    def default(self, obj: Object) -> None:
        obj.setdefault("reclaimPolicy", "Delete")  # SetDefaults_StorageClass
        obj.setdefault("volumeBindingMode", "Immediate")

    def validate(self, obj: Object) -> list[Any]:
        errs: list[FieldError] = []
        provisioner = obj.get("provisioner") or ""
        if not provisioner:
            errs.append(FieldError.required("provisioner"))
        else:
            errs += [FieldError.invalid("provisioner", provisioner.lower(), m)
                     for m in is_qualified_name(provisioner.lower())]
        params = obj.get("parameters") or {}
        if len(params) > MAX_PARAMETERS:
            errs.append(FieldError.too_long("parameters", "", MAX_PARAMETERS))
        else:
            errs += [FieldError.invalid("parameters", k, "field can not be empty.") for k in params if not k]
            if sum(len(k) + len(str(v)) for k, v in params.items()) > MAX_PARAMETERS_SIZE:
                errs.append(FieldError.too_long("parameters", "", MAX_PARAMETERS_SIZE))
        policy = obj.get("reclaimPolicy")
        if policy and policy not in RECLAIM_POLICIES:
            errs.append(FieldError.not_supported("reclaimPolicy", policy, RECLAIM_POLICIES))
        mode = obj.get("volumeBindingMode")
        if mode is None:
            errs.append(FieldError.required("volumeBindingMode"))
        elif mode not in BINDING_MODES:
            errs.append(FieldError.not_supported("volumeBindingMode", mode, BINDING_MODES))
        return errs

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        errs: list[FieldError] = []
        for path in ("parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"):
            errs += _immutable(obj, old, path)
        return errs


def _class_name(obj: Object) -> str:
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    default = any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS)
    return meta.get("name", "") + (" (default)" if default else "")


storageclass_spec = _specs(
    "StorageClass", "storageclasses",
    "StorageClass describes the parameters for a class of storage for which PersistentVolumes can be "
    "dynamically provisioned.\n\nStorageClasses are non-namespaced; the name of the storage class according "
    "to etcd is in ObjectMeta.Name.",
    StorageClassStrategy(),
    (TableColumn("Name", "string", _class_name, format="name", description="Name must be unique within a namespace."),
     TableColumn("Provisioner", "string", lambda o: o.get("provisioner") or "",
                 description="provisioner indicates the type of the provisioner."),
     TableColumn("ReclaimPolicy", "string", lambda o: o.get("reclaimPolicy") or "Delete",
                 description="reclaimPolicy controls the reclaimPolicy for dynamically provisioned "
                             "PersistentVolumes of this storage class. Defaults to Delete."),
     TableColumn("VolumeBindingMode", "string", lambda o: o.get("volumeBindingMode") or "Immediate",
                 description="volumeBindingMode indicates how PersistentVolumeClaims should be provisioned "
                             "and bound.  When unset, VolumeBindingImmediate is used."),
     TableColumn("AllowVolumeExpansion", "string", lambda o: bool(o.get("allowVolumeExpansion")),
                 description="allowVolumeExpansion shows whether the storage class allow volume expand."),
     AGE_COLUMN),
    short_names=("sc",))


# --- csidrivers ------------------------------------------------------------------------------

CSI_DRIVER_DEFAULTS = {"attachRequired": True, "podInfoOnMount": False, "storageCapacity": False,
                       "fsGroupPolicy": "ReadWriteOnceWithFSType", "requiresRepublish": False,
                       "seLinuxMount": False}


class CSIDriverStrategy(Strategy):
    track_generation = True

    def default(self, obj: Object) -> None:
        spec = obj.setdefault("spec", {})  # SetDefaults_CSIDriver
        for key, value in CSI_DRIVER_DEFAULTS.items():
            spec.setdefault(key, value)
        if not spec.get("volumeLifecycleModes"):
            spec["volumeLifecycleModes"] = ["Persistent"]

    def validate(self, obj: Object) -> list[Any]:
        spec, errs = _spec(obj), []
        for key in ("attachRequired", "podInfoOnMount", "storageCapacity", "requiresRepublish"):
            if spec.get(key) is None:
                errs.append(FieldError.required(f"spec.{key}"))
        policy = spec.get("fsGroupPolicy")
        if policy is not None and policy not in FS_GROUP_POLICIES:
            errs.append(FieldError.not_supported("spec.fsGroupPolicy", policy, FS_GROUP_POLICIES))
        errs += [FieldError.not_supported("spec.volumeLifecycleModes", mode, LIFECYCLE_MODES)
                 for mode in spec.get("volumeLifecycleModes") or [] if mode not in LIFECYCLE_MODES]
        audiences: set[str] = set()
        for i, request in enumerate(spec.get("tokenRequests") or []):
            audience = request.get("audience") or ""
            if audience in audiences:
                errs.append(FieldError.duplicate(f"spec.tokenRequests[{i}].audience", audience))
            audiences.add(audience)
        return errs

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        errs = self.validate(obj)
        if _spec(obj).get("attachRequired") != _spec(old).get("attachRequired"):
            # kube's path really says attachedRequired
            errs.append(FieldError.invalid("spec.attachedRequired", _spec(obj).get("attachRequired"), FIELD_IMMUTABLE))
        return errs + _immutable(obj, old, "spec.volumeLifecycleModes")


def _token_requests(obj: Object) -> str:
    requests = _spec(obj).get("tokenRequests")
    return "<unset>" if requests is None else ",".join(r.get("audience", "") for r in requests)


def _bool(key: str, default: bool) -> Any:
    return lambda o: bool(_spec(o).get(key, default)) if _spec(o).get(key) is not None else default


csidriver_spec = _specs(
    "CSIDriver", "csidrivers",
    "CSIDriver captures information about a Container Storage Interface (CSI) volume driver deployed on the "
    "cluster. Kubernetes attach detach controller uses this object to determine whether attach is required. "
    "Kubelet uses this object to determine whether pod information needs to be passed on mount. CSIDriver "
    "objects are non-namespaced.",
    CSIDriverStrategy(),
    (NAME_COLUMN,
     TableColumn("AttachRequired", "boolean", _bool("attachRequired", True),
                 description="attachRequired indicates this CSI volume driver requires an attach operation."),
     TableColumn("PodInfoOnMount", "boolean", _bool("podInfoOnMount", False),
                 description="podInfoOnMount indicates this CSI volume driver requires additional pod "
                             "information (like podName, podUID, etc.) during mount operations."),
     TableColumn("StorageCapacity", "boolean", _bool("storageCapacity", False),
                 description="storageCapacity indicates that the CSI volume driver wants pod scheduling to "
                             "consider the storage capacity that the driver deployment will report."),
     TableColumn("TokenRequests", "string", _token_requests,
                 description="tokenRequests indicates the CSI driver needs pods' service account tokens it "
                             "is mounting volume for to do necessary authentication."),
     TableColumn("RequiresRepublish", "boolean", _bool("requiresRepublish", False),
                 description="requiresRepublish indicates the CSI driver wants `NodePublishVolume` being "
                             "periodically called to reflect any possible change in the mounted volume."),
     TableColumn("Modes", "string", lambda o: ",".join(_spec(o).get("volumeLifecycleModes") or []) or "<none>",
                 description="volumeLifecycleModes defines what kind of volumes this CSI volume driver "
                             "supports."),
     AGE_COLUMN))


# --- csinodes --------------------------------------------------------------------------------

class CSINodeStrategy(Strategy):
    def validate(self, obj: Object) -> list[Any]:
        errs: list[FieldError] = []
        names: set[str] = set()
        for i, driver in enumerate(_spec(obj).get("drivers") or []):
            at = f"spec.drivers[{i}]"
            name = driver.get("name") or ""
            errs += _csi_driver_name(name, f"{at}.name")
            node_id = driver.get("nodeID") or ""
            if not node_id:
                errs.append(FieldError.required(f"{at}.nodeID", node_id))
            elif len(node_id) > 192:
                errs.append(FieldError.too_long(f"{at}.nodeID", node_id, 192))
            if name in names:
                errs.append(FieldError.duplicate(f"{at}.name", name))
            names.add(name)
            count = (driver.get("allocatable") or {}).get("count")
            if isinstance(count, int) and count < 0:
                errs.append(FieldError.invalid(f"{at}.allocatable.count", count, "must be greater than or equal to 0"))
        return errs

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        errs = self.validate(obj)
        old_drivers = {d.get("name"): d for d in _spec(old).get("drivers") or []}
        for driver in _spec(obj).get("drivers") or []:
            before = old_drivers.get(driver.get("name"))
            strip = lambda d: {k: v for k, v in d.items() if k != "allocatable"}  # noqa: E731 (count may change)
            if before is not None and strip(driver) != strip(before):
                errs.append(FieldError.invalid("spec.drivers", driver, FIELD_IMMUTABLE))
        return errs


csinode_spec = _specs(
    "CSINode", "csinodes",
    "CSINode holds information about all CSI drivers installed on a node. CSI drivers do not need to create "
    "the CSINode object directly. As long as they use the node-driver-registrar sidecar container, the kubelet "
    "will automatically populate the CSINode object for the CSI driver as part of kubelet plugin registration.",
    CSINodeStrategy(),
    (NAME_COLUMN,
     TableColumn("Drivers", "integer", lambda o: len(_spec(o).get("drivers") or []),
                 description="Drivers indicates the number of CSI drivers registered on the node"),
     AGE_COLUMN))


# --- volumeattachments -----------------------------------------------------------------------

class VolumeAttachmentStrategy(Strategy):
    """Status only through /status; the spec never changes after create."""

    def prepare_for_create(self, obj: Object) -> None:
        obj.pop("status", None)

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        if "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        else:
            obj.pop("status", None)

    def validate(self, obj: Object) -> list[Any]:
        spec, errs = _spec(obj), []
        errs += _csi_driver_name(spec.get("attacher") or "", "spec.attacher")
        source = spec.get("source") or {}
        pv, inline = source.get("persistentVolumeName"), source.get("inlineVolumeSpec")
        if pv is None and inline is None:
            errs.append(FieldError.required("spec.source", "must specify exactly one of inlineVolumeSpec and "
                                                           "persistentVolumeName"))
        elif pv is not None and inline is not None:
            errs.append(FieldError.forbidden("spec.source", "must specify exactly one of inlineVolumeSpec and "
                                                            "persistentVolumeName"))
        elif pv is not None and not pv:
            errs.append(FieldError.required("spec.source.persistentVolumeName",
                                            "must specify non empty persistentVolumeName"))
        node = spec.get("nodeName") or ""
        errs += [FieldError.invalid("spec.nodeName", node, m) for m in name_is_dns_subdomain(node)]
        if pv:
            errs += [FieldError.invalid("spec.source.persistentVolumeName", pv, m) for m in name_is_dns_subdomain(pv)]
        return errs

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return self.validate(obj) + _immutable(obj, old, "spec")


class VolumeAttachmentStatusStrategy(StatusStrategy):
    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        status = obj.get("status") or {}
        errs = []
        for key in ("attachError", "detachError"):
            message = (status.get(key) or {}).get("message") or ""
            if len(message) > 1024:
                errs.append(FieldError.too_long(f"status.{key}.message", message, 1024))
        return errs


volumeattachment_spec = _specs(
    "VolumeAttachment", "volumeattachments",
    "VolumeAttachment captures the intent to attach or detach the specified volume to/from the specified "
    "node.\n\nVolumeAttachment objects are non-namespaced.",
    VolumeAttachmentStrategy(),
    (NAME_COLUMN,
     TableColumn("Attacher", "string", lambda o: _spec(o).get("attacher") or "", format="name",
                 description="attacher indicates the name of the volume driver that MUST handle this request."),
     TableColumn("PV", "string", lambda o: (_spec(o).get("source") or {}).get("persistentVolumeName") or "",
                 description="persistentVolumeName represents the name of the persistent volume to attach."),
     TableColumn("Node", "string", lambda o: _spec(o).get("nodeName") or "",
                 description="nodeName represents the node that the volume should be attached to."),
     TableColumn("Attached", "boolean", lambda o: bool((o.get("status") or {}).get("attached")),
                 description="attached indicates the volume is successfully attached."),
     AGE_COLUMN),
    subresources=("status",),
    subresource_strategies={"status": VolumeAttachmentStatusStrategy()})
