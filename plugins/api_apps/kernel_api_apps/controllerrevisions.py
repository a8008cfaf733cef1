"""controllerrevisions (apps/v1 ControllerRevision): immutable snapshots of a controller's
template; ``data`` must be a JSON object and never changes, ``revision`` is non-negative."""

from __future__ import annotations

from typing import Any

import msgspec

from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn
from kernel.apimachinery.validation import FieldError, GoLiteral

from kernel_api_apps import workload as w
from kernel_api_apps.types import TYPES

SCHEMA_NAME = "io.k8s.api.apps.v1.ControllerRevision"
DESCRIPTION = (
    "ControllerRevision implements an immutable snapshot of state data. Clients are responsible for "
    "serializing and deserializing the objects that contain their internal state. Once a "
    "ControllerRevision has been successfully created, it can not be updated. The API Server will fail "
    "validation of all requests that attempt to mutate the Data field. ControllerRevisions may, however, "
    "be deleted. Note that, due to its use by both the DaemonSet and StatefulSet controllers for update "
    "and rollback, this object is beta. However, it may be subject to name and representation changes in "
    "future releases, and clients should not depend on its stability. It is primarily for internal use "
    "by controllers.")


def _raw_extension(data: Any) -> GoLiteral:
    """runtime.RawExtension as %#v prints it (how ValidateImmutableField shows the new data)."""
    raw = msgspec.json.encode(data)
    return GoLiteral("runtime.RawExtension{Raw:[]uint8{" + ", ".join(f"0x{b:x}" for b in raw)
                     + "}, Object:runtime.Object(nil)}")


class ControllerRevisionStrategy(Strategy):
    """pkg/registry/apps/controllerrevision's strategy."""

    def _common(self, obj: Object) -> list[FieldError]:
        return w.nonnegative(obj.get("revision"), "revision")

    def validate(self, obj: Object) -> list[Any]:
        errs = self._common(obj)
        data = obj.get("data")
        if data is None:
            errs.append(FieldError.required("data", "data is mandatory"))
        elif not isinstance(data, dict):
            errs.append(FieldError.required("data", "data must be a valid JSON object"))
        return errs

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        errs = self._common(obj)
        if obj.get("data") != old.get("data"):
            errs.append(FieldError.invalid("data", _raw_extension(obj.get("data")), "field is immutable"))
        return errs


def _controller(obj: Object) -> str:
    """The controlling owner as ``kind.group/name`` (formatResourceName), or ``<none>``."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            group = (ref.get("apiVersion") or "").rpartition("/")[0]
            kind = ref.get("kind") or ""
            group_kind = f"{kind}.{group}" if group else kind
            return f"{group_kind.lower()}/{ref.get('name', '')}" if group_kind else ref.get("name", "")
    return "<none>"


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Controller", "string", _controller, description="Controller of the object"),
    TableColumn("Revision", "string", lambda o: o.get("revision") or 0,
                description="Revision indicates the revision of the state represented by Data."),
    AGE_COLUMN,
)

controllerrevision_spec = ResourceSpec(
    group="apps", version="v1", kind="ControllerRevision", plural="controllerrevisions",
    singular="controllerrevision", namespaced=True,
    **TYPES.spec_fields("ControllerRevision"),
    strategy=ControllerRevisionStrategy(),
    table_columns=TABLE_COLUMNS, description=DESCRIPTION,
)
