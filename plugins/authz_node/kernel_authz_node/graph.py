"""The Node authorizer's graph (kube's plugin/pkg/auth/authorizer/node/graph.go).

Vertices are API objects (``(kind, namespace, name)``); an edge points from an object towards
the node that may read it: secret → pod → node, configmap → pod, serviceaccount → pod,
pvc → pod, pv → pvc, secret → pv, volumeattachment → node. An edge that ends a path at one
node (every edge added for a pod, which runs on one node) records that node as its
*destination*: a search never follows an edge whose destination is another node, and a
per-vertex count of destinations answers most questions without searching at all.

Removing a vertex also removes the neighbours that were connected to it alone, so a secret
referenced by one pod leaves the graph with that pod.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

CONFIGMAP, NODE, POD, PVC, PV, SECRET, VOLUME_ATTACHMENT, SERVICE_ACCOUNT = (
    "configmap", "node", "pod", "pvc", "pv", "secret", "volumeattachment", "serviceAccount")
# Kinds whose every out-edge has a destination: their destination count is the whole answer.
AUTHORITATIVE = frozenset({CONFIGMAP, POD, PVC, VOLUME_ATTACHMENT, SERVICE_ACCOUNT})

Vertex = tuple[str, str, str]  # (kind, namespace, name)


class _Edges(msgspec.Struct):
    out: dict[Vertex, Vertex | None] = msgspec.field(default_factory=dict)  # to -> destination node
    into: set[Vertex] = msgspec.field(default_factory=set)
    destinations: dict[Vertex, int] = msgspec.field(default_factory=dict)  # node -> out-edges to it

    @property
    def degree(self) -> int:
        return len(self.out) + len(self.into)


class Graph:
    """Objects and their references; mutated by the populator, read by the authorizer."""

    def __init__(self) -> None:
        self._vertices: dict[Vertex, _Edges] = {}

    def __len__(self) -> int:
        return len(self._vertices)

    def has(self, kind: str, namespace: str, name: str) -> bool:
        return (kind, namespace, name) in self._vertices

    def edges_from(self, kind: str, namespace: str, name: str) -> dict[Vertex, Vertex | None]:
        """A copy of the vertex's out-edges (to -> destination), for tests and debugging."""
        edges = self._vertices.get((kind, namespace, name))
        return dict(edges.out) if edges else {}

    # -- changes ------------------------------------------------------------------------------

    def _vertex(self, vertex: Vertex) -> _Edges:
        return self._vertices.setdefault(vertex, _Edges())

    def _add_edge(self, source: Vertex, target: Vertex, destination: Vertex | None) -> None:
        if source[0] in AUTHORITATIVE and destination is None:
            raise ValueError(f"a {source[0]} vertex has destination edges only")
        edges = self._vertex(source)
        self._vertex(target).into.add(source)
        previous = edges.out.get(target, ...)
        if previous is not ...:
            self._forget_destination(edges, previous)
        edges.out[target] = destination
        if destination is not None:
            edges.destinations[destination] = edges.destinations.get(destination, 0) + 1

    @staticmethod
    def _forget_destination(edges: _Edges, destination: Vertex | None) -> None:
        if destination is None:
            return
        count = edges.destinations.get(destination, 0) - 1
        if count > 0:
            edges.destinations[destination] = count
        else:
            edges.destinations.pop(destination, None)

    def _remove_vertex(self, vertex: Vertex) -> None:
        edges = self._vertices.pop(vertex, None)
        if edges is None:
            return
        for target in edges.out:
            if target in self._vertices:
                self._vertices[target].into.discard(vertex)
        for source in edges.into:
            source_edges = self._vertices.get(source)
            if source_edges is not None and vertex in source_edges.out:
                self._forget_destination(source_edges, source_edges.out.pop(vertex))

    def delete_vertex(self, kind: str, namespace: str, name: str) -> None:
        """Remove the vertex, and each neighbour whose only edge was to or from it."""
        vertex = (kind, namespace, name)
        edges = self._vertices.get(vertex)
        if edges is None:
            return
        lonely = [n for n in (*edges.out, *edges.into) if self._vertices[n].degree == 1]
        self._remove_vertex(vertex)
        for neighbour in lonely:
            self._remove_vertex(neighbour)

    def set_pod(self, namespace: str, name: str, node: str, service_account: str,
                secrets: Iterable[str], configmaps: Iterable[str], claims: Iterable[str]) -> None:
        """Replace the pod's edges: pod → its node, and each object it references → pod."""
        self.delete_vertex(POD, namespace, name)
        pod, node_vertex = (POD, namespace, name), (NODE, "", node)
        self._add_edge(pod, node_vertex, node_vertex)
        if service_account:
            self._add_edge((SERVICE_ACCOUNT, namespace, service_account), pod, node_vertex)
        for kind, names in ((SECRET, secrets), (CONFIGMAP, configmaps), (PVC, claims)):
            for referenced in names:
                self._add_edge((kind, namespace, referenced), pod, node_vertex)

    def set_pv(self, name: str, claim: tuple[str, str] | None,
               secrets: Iterable[tuple[str, str]]) -> None:
        """Replace the PV's edges: pv → its bound claim, and each secret it names → pv."""
        self.delete_vertex(PV, "", name)
        if claim is None:
            return
        pv = (PV, "", name)
        self._add_edge(pv, (PVC, *claim), None)
        for namespace, secret in secrets:
            self._add_edge((SECRET, namespace, secret), pv, None)

    def set_volume_attachment(self, name: str, node: str) -> None:
        self.delete_vertex(VOLUME_ATTACHMENT, "", name)
        if node:
            node_vertex = (NODE, "", node)
            self._add_edge((VOLUME_ATTACHMENT, "", name), node_vertex, node_vertex)

    # -- questions ----------------------------------------------------------------------------

    def has_path(self, node: str, kind: str, namespace: str, name: str) -> bool:
        """Is there a path from the object to the node, through no other node's edges?"""
        target, start = (NODE, "", node), (kind, namespace, name)
        if target not in self._vertices or start not in self._vertices:
            return False
        edges = self._vertices[start]
        if target in edges.destinations:
            return True
        if kind in AUTHORITATIVE:
            return False
        seen, stack = {start}, [start]
        while stack:
            for to, destination in self._vertices[stack.pop()].out.items():
                if destination is not None and destination != target:
                    continue  # an edge towards another node
                if to == target or destination == target:
                    return True
                if to not in seen:
                    seen.add(to)
                    stack.append(to)
        return False
