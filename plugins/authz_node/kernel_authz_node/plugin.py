"""authz_node: the ``Node`` authorization mode and the ``NodeRestriction`` admission plugin."""

from __future__ import annotations

from kernel import hookimpl
from kernel.admission import default_enabled
from kernel.context import ServerContext
from kernel_api_rbac.bootstrappolicy import node_rules
from kernel_authz_node.graph import Graph
from kernel_authz_node.graph_populator import add_graph_event_handlers, wait_for_sync
from kernel_authz_node.node_authorizer import NodeAuthorizer
from kernel_authz_node.noderestriction import NodeRestriction

MODE = "Node"
ADMISSION = "NodeRestriction"
GRAPH_HOOK = "node-authorizer-graph"
# How long /readyz waits for the graph's first fill before the server is ready without it.
SYNC_TIMEOUT = 60.0


@hookimpl
def kernel_requires():
    return ["api_core"]


def _authorizer(context: ServerContext) -> NodeAuthorizer:
    graph = Graph()
    authorizer = NodeAuthorizer(graph, node_rules())
    authorizer.registrations = add_graph_event_handlers(context, graph)
    return authorizer


@hookimpl
def kernel_authorizers():
    return {MODE: _authorizer}


@default_enabled
def _node_restriction(context: ServerContext) -> NodeRestriction:
    return NodeRestriction(context)


@hookimpl
def kernel_admission_plugins():
    return {ADMISSION: _node_restriction}


async def _graph_synced(context: ServerContext) -> None:
    """Ready once the graph holds every pod and PV (or after SYNC_TIMEOUT, logged)."""
    authorizer = context.component("authorizers", MODE)
    if authorizer is not None:
        await wait_for_sync(authorizer.registrations, SYNC_TIMEOUT)


@hookimpl
def kernel_post_start_hooks(context):
    return {GRAPH_HOOK: _graph_synced}
