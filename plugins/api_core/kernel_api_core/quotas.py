"""limitranges and resourcequotas: the default columns for LimitRange (kube has no printer for it),
printResourceQuota's Request/Limit summary, quota status through /status."""

from __future__ import annotations

from kernel.endpoints.table import AGE_COLUMN, DEFAULT_COLUMNS, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, TableColumn
from kernel_api_core._generic import SpecStatusStrategy
from kernel_api_core.types import CORE_V1

LR_DESCRIPTION = "LimitRange sets resource usage limits for each kind of resource in a Namespace."
RQ_DESCRIPTION = "ResourceQuota sets aggregate quota restrictions enforced per namespace"


def _quota_column(quota: Object, limits: bool) -> str:
    """``resource: used/hard`` for each hard limit, sorted; limits.* go to the Limit column."""
    status = quota.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    parts = []
    for name in sorted(hard):
        is_limit = name.split(".")[0] == "limits" and "." in name
        if is_limit == limits:
            parts.append(f"{name}: {used.get(name, '0')}/{hard[name]}")
    return ", ".join(parts)


RQ_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Request", "string", lambda o: _quota_column(o, False),
                description="Request represents a minimum amount of cpu/memory that a container may consume."),
    TableColumn("Limit", "string", lambda o: _quota_column(o, True),
                description="Limits control the maximum amount of cpu/memory that a container may use "
                            "independent of contention on the node."),
    AGE_COLUMN,
)

_RQ = SpecStatusStrategy(initial_status={})

limitrange_spec = ResourceSpec(
    group="", version="v1", kind="LimitRange", plural="limitranges", singular="limitrange", namespaced=True,
    **CORE_V1.spec_fields("LimitRange"),
    short_names=("limits",), strategy=SpecStatusStrategy(has_status=False),
    table_columns=DEFAULT_COLUMNS, description=LR_DESCRIPTION,
)

resourcequota_spec = ResourceSpec(
    group="", version="v1", kind="ResourceQuota", plural="resourcequotas", singular="resourcequota",
    namespaced=True,
    **CORE_V1.spec_fields("ResourceQuota"),
    short_names=("quota",), subresources=("status",), strategy=_RQ,
    subresource_strategies={"status": _RQ.status_strategy()},
    table_columns=RQ_COLUMNS, description=RQ_DESCRIPTION,
)
