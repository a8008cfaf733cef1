"""customresourcedefinitions (apiextensions.k8s.io/v1): defaults, strategy and deletion as
apiextensions-apiserver's registry has them.

A delete marks the CRD (deletionTimestamp, the ``customresourcecleanup.apiextensions.k8s.io``
finalizer and a Terminating condition); the finalizing controller deletes its custom resources,
then drops the finalizer and the CRD goes.
"""

from __future__ import annotations

import copy
from typing import Any

from kernel.apimachinery import meta as objmeta
from kernel.endpoints.table import DEFAULT_COLUMNS
from kernel.registry.resource import Object, ResourceSpec, StatusStrategy, Strategy

from kernel_api_apiextensions.types import TYPES
from kernel_api_apiextensions.validation import validate_crd, validate_crd_update

GROUP, VERSION, KIND = "apiextensions.k8s.io", "v1", "CustomResourceDefinition"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def condition(obj: Object, kind: str) -> Object | None:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == kind:
            return cond
    return None


def set_condition(obj: Object, new: Object) -> None:
    """SetCRDCondition: replace the condition of that type; the transition time moves only
    when its status changes."""
    status = obj.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    new = {**new, "lastTransitionTime": new.get("lastTransitionTime") or objmeta.now_rfc3339()}
    for i, cond in enumerate(conditions):
        if cond.get("type") == new["type"]:
            if cond.get("status") == new["status"]:
                new["lastTransitionTime"] = cond.get("lastTransitionTime") or new["lastTransitionTime"]
            conditions[i] = new
            return
    conditions.append(new)


def _storage_version(obj: Object) -> str | None:
    return next((v.get("name") for v in (obj.get("spec") or {}).get("versions") or ()
                 if v.get("storage")), None)


def _add_stored_version(obj: Object) -> None:
    version = _storage_version(obj)
    stored = obj.setdefault("status", {}).setdefault("storedVersions", [])
    if version and version not in stored:
        stored.append(version)


class CRDStrategy(Strategy):
    track_generation = True
    allow_create_on_update = False
    allow_unconditional_update = True

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        names = spec.get("names")
        if isinstance(names, dict) and names.get("kind"):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        conversion = spec.setdefault("conversion", {"strategy": "None"})
        service = (((conversion.get("webhook") or {}).get("clientConfig") or {}).get("service")
                   if isinstance(conversion, dict) else None)
        if isinstance(service, dict):
            service.setdefault("port", 443)  # SetDefaults_ServiceReference
        for version in spec.get("versions") or ():
            if isinstance(version, dict):
                version.setdefault("served", False)
                version.setdefault("storage", False)

    def prepare_for_create(self, obj: Object) -> None:
        obj["status"] = {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": []}
        _add_stored_version(obj)

    def prepare_for_update(self, obj: Object, old: Object) -> None:
        obj["status"] = copy.deepcopy(old.get("status") or {})
        _add_stored_version(obj)

    def validate(self, obj: Object) -> list[Any]:
        return validate_crd(obj)

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return validate_crd_update(obj, old)

    def delete_pending(self, obj: Object) -> bool:
        # The first delete only marks it: its custom resources go first.
        meta = objmeta.metadata(obj)
        return bool(meta.get("finalizers")) or not meta.get("deletionTimestamp")

    def prepare_for_delete(self, obj: Object) -> None:
        finalizers = objmeta.metadata(obj).setdefault("finalizers", [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)
        set_condition(obj, {"type": "Terminating", "status": "True",
                            "reason": "InstanceDeletionPending",
                            "message": "CustomResourceDefinition marked for deletion; "
                                       "CustomResource deletion will begin soon"})


class CRDStatusStrategy(StatusStrategy):
    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return validate_crd(obj)


crd_spec = ResourceSpec(
    group=GROUP, version=VERSION, kind=KIND, plural="customresourcedefinitions",
    singular="customresourcedefinition", namespaced=False,
    **TYPES.spec_fields(KIND, with_protobuf=False),
    short_names=("crd", "crds"), categories=("api-extensions",),
    subresources=("status",), strategy=CRDStrategy(),
    subresource_strategies={"status": CRDStatusStrategy()},
    table_columns=DEFAULT_COLUMNS, description=TYPES.description(KIND),
)
