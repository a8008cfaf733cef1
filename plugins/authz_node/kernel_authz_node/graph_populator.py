"""Keeps the graph current from the shared informers (kube's graph_populator.go): pods, PVs and,
when storage.k8s.io is served, volume attachments."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from kernel.context import ServerContext
from kernel_authz_node import references
from kernel_authz_node.graph import POD, PV, VOLUME_ATTACHMENT, Graph

if TYPE_CHECKING:
    from kernel.server.informers import Registration

log = logging.getLogger("kernel.authz_node")
Object = dict[str, Any]


def _meta(obj: Object) -> Object:
    return obj.get("metadata") or {}


def _node_name(pod: Object) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


def _ephemeral_containers(pod: Object) -> int:
    return len((pod.get("spec") or {}).get("ephemeralContainers") or [])


def _references_may_differ(old: Object, new: Object) -> bool:
    """A pod's references are immutable, save for ephemeral containers added to it: an update
    matters only when it binds or rebinds the pod, is another pod (a new uid), or adds some."""
    return (_node_name(old) != _node_name(new) or _meta(old).get("uid") != _meta(new).get("uid")
            or _ephemeral_containers(new) > _ephemeral_containers(old))


class GraphPopulator:
    """Informer event handlers that apply each change of a pod, PV or attachment to the graph."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def add_pod(self, pod: Object) -> None:
        self.update_pod(None, pod)

    def update_pod(self, old: Object | None, pod: Object) -> None:
        node = _node_name(pod)
        if not node:
            return  # not scheduled yet: nothing of it is any node's
        if old is not None and not _references_may_differ(old, pod):
            return
        meta = _meta(pod)
        namespace, name = meta.get("namespace") or "", meta["name"]
        if references.is_mirror_pod(pod):
            self.graph.set_pod(namespace, name, node, "", (), (), ())
            return  # a mirror pod's references are not the node's to read
        self.graph.set_pod(namespace, name, node, pod["spec"].get("serviceAccountName") or "",
                           references.pod_secret_names(pod), references.pod_configmap_names(pod),
                           references.pod_claim_names(pod))

    def delete_pod(self, pod: Object) -> None:
        if _node_name(pod):
            meta = _meta(pod)
            self.graph.delete_vertex(POD, meta.get("namespace") or "", meta["name"])

    def update_pv(self, old: Object | None, pv: Object) -> None:
        claim = (pv.get("spec") or {}).get("claimRef") or {}
        bound = (claim.get("namespace") or "", claim["name"]) if claim.get("name") else None
        secrets = [(ns, name) for ns, name, visible in references.pv_secret_refs(pv) if visible]
        self.graph.set_pv(_meta(pv)["name"], bound, secrets)

    def delete_pv(self, pv: Object) -> None:
        self.graph.delete_vertex(PV, "", _meta(pv)["name"])

    def update_attachment(self, old: Object | None, attachment: Object) -> None:
        node = (attachment.get("spec") or {}).get("nodeName") or ""
        if old is not None and ((old.get("spec") or {}).get("nodeName") or "") == node:
            return
        self.graph.set_volume_attachment(_meta(attachment)["name"], node)

    def delete_attachment(self, attachment: Object) -> None:
        self.graph.delete_vertex(VOLUME_ATTACHMENT, "", _meta(attachment)["name"])


def add_graph_event_handlers(context: ServerContext, graph: Graph) -> list[Registration]:
    """Register the populator on the informers; returns the registrations, to wait for sync."""
    populator = GraphPopulator(graph)
    registrations = [
        context.informer("", "pods").add_event_handler(
            populator.add_pod, populator.update_pod, populator.delete_pod),
        context.informer("", "persistentvolumes").add_event_handler(
            lambda pv: populator.update_pv(None, pv), populator.update_pv, populator.delete_pv)]
    try:
        attachments = context.informer("storage.k8s.io", "volumeattachments")
    except KeyError:  # storage.k8s.io not served: there are no attachments to authorize
        return registrations
    registrations.append(attachments.add_event_handler(
        lambda va: populator.update_attachment(None, va), populator.update_attachment,
        populator.delete_attachment))
    return registrations


async def wait_for_sync(registrations: list[Registration], timeout: float) -> bool:
    """Until every handler has seen its informer's first list, or ``timeout`` seconds (the
    graph then fills in as the informers catch up; nodes are refused until then)."""
    with trio.move_on_after(timeout):
        for registration in registrations:
            await registration.wait_synced()
        return True
    log.warning("node authorizer: the graph did not sync within %gs; nodes are refused what "
                "it does not hold yet", timeout)
    return False
