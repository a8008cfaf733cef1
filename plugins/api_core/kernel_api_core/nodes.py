"""nodes (v1 Node): cluster-scoped, status through /status, spec.unschedulable selectable, printNode."""

from __future__ import annotations

from kernel.endpoints.table import AGE_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, TableColumn
from kernel_api_core import _core
from kernel_api_core._generic import SpecStatusStrategy
from kernel_api_core.types import CORE_V1

KIND = "Node"
DESCRIPTION = ("Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache "
               "(i.e. in etcd).")
ROLE_PREFIX = "node-role.kubernetes.io/"
ROLE_LABEL = "kubernetes.io/role"


def _status(node: Object) -> Object:
    return node.get("status") or {}


def selectable_fields(node: Object) -> dict[str, str]:
    return {"spec.unschedulable": "true" if (node.get("spec") or {}).get("unschedulable") else "false"}


def default_node(node: Object) -> None:
    """SetDefaults_NodeStatus: allocatable defaults to capacity."""
    status = node.get("status")
    if isinstance(status, dict) and status.get("capacity") and status.get("allocatable") is None:
        status["allocatable"] = dict(status["capacity"])


def node_status(node: Object) -> str:
    conditions = {c.get("type"): c for c in _status(node).get("conditions") or []}
    states = []
    if "Ready" in conditions:
        states.append("Ready" if conditions["Ready"].get("status") == "True" else "NotReady")
    if not states:
        states.append("Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        states.append("SchedulingDisabled")
    return ",".join(states)


def roles(node: Object) -> str:
    found = set()
    for key, value in ((node.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith(ROLE_PREFIX) and key[len(ROLE_PREFIX):]:
            found.add(key[len(ROLE_PREFIX):])
        elif key == ROLE_LABEL and value:
            found.add(value)
    return ",".join(sorted(found)) or _core.NONE


def address(node: Object, kind: str) -> str:
    for entry in _status(node).get("addresses") or []:
        if entry.get("type") == kind:
            return entry.get("address") or ""
    return _core.NONE


def _info(node: Object, key: str) -> str:
    return (_status(node).get("nodeInfo") or {}).get(key) or ""


def kernel_version(node: Object) -> str:
    version = _info(node, "kernelVersion") or "<unknown>"
    arch = _info(node, "architecture")
    return f"{version} ({arch})" if arch else version


TABLE_COLUMNS = (
    NAME_COLUMN,
    TableColumn("Status", "string", node_status, description="The status of the node"),
    TableColumn("Roles", "string", roles, description="The roles of the node"),
    AGE_COLUMN,
    TableColumn("Version", "string", lambda o: _info(o, "kubeletVersion"),
                description="Kubelet Version reported by the node."),
    TableColumn("Internal-IP", "string", lambda o: address(o, "InternalIP"), priority=1,
                description="List of addresses reachable to the node."),
    TableColumn("External-IP", "string", lambda o: address(o, "ExternalIP"), priority=1,
                description="List of addresses reachable to the node."),
    TableColumn("OS-Image", "string", lambda o: _info(o, "osImage") or "<unknown>", priority=1,
                description="OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 "
                            "(wheezy))."),
    TableColumn("Kernel-Version", "string", kernel_version, priority=1,
                description="Kernel Version reported by the node from 'uname -r' (e.g. "
                            "3.16.0-0.bpo.4-amd64)."),
    TableColumn("Container-Runtime", "string", lambda o: _info(o, "containerRuntimeVersion") or "<unknown>",
                priority=1, description="ContainerRuntime Version reported by the node through runtime "
                                        "remote API (e.g. containerd://1.4.2)."),
)

_STRATEGY = SpecStatusStrategy(defaults=default_node, selectors=selectable_fields)

node_spec = ResourceSpec(
    group="", version="v1", kind=KIND, plural="nodes", singular="node", namespaced=False,
    **CORE_V1.spec_fields(KIND),
    short_names=("no",),
    subresources=("status",),
    strategy=_STRATEGY,
    subresource_strategies={"status": _STRATEGY.status_strategy()},
    table_columns=TABLE_COLUMNS,
    selectable_fields=("spec.unschedulable",),
    description=DESCRIPTION,
)
