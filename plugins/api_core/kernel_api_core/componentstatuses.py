"""componentstatuses (v1 ComponentStatus, deprecated): read-only, with printComponentStatus' columns.

kube computes these by probing etcd, the scheduler and the controller-manager; this server has
none of those to probe, so the list holds whatever was stored (normally nothing).
"""

from __future__ import annotations

from kernel.endpoints.table import NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, TableColumn
from kernel_api_core._generic import SpecStatusStrategy
from kernel_api_core.types import CORE_V1

KIND = "ComponentStatus"
DESCRIPTION = ("ComponentStatus (and ComponentStatusList) holds the cluster validation info. Deprecated: "
               "This API is deprecated in v1.19+")


def healthy(cs: Object) -> dict[str, str]:
    for condition in cs.get("conditions") or []:
        if condition.get("type") == "Healthy":
            return {"status": "Healthy" if condition.get("status") == "True" else "Unhealthy",
                    "message": condition.get("message") or "", "error": condition.get("error") or ""}
    return {"status": "Unknown", "message": "", "error": ""}


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Status", "string", lambda o: healthy(o)["status"], description="Status of the component conditions"),
    TableColumn("Message", "string", lambda o: healthy(o)["message"], description="Message of the component conditions"),
    TableColumn("Error", "string", lambda o: healthy(o)["error"], description="Error of the component conditions"),
)

componentstatus_spec = ResourceSpec(
    group="", version="v1", kind=KIND, plural="componentstatuses", singular="componentstatus", namespaced=False,
    **CORE_V1.spec_fields(KIND),
    short_names=("cs",), verbs=("get", "list"),
    strategy=SpecStatusStrategy(has_status=False),
    table_columns=TABLE_COLUMNS, description=DESCRIPTION,
)
