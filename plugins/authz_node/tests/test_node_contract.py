"""The kernel's authorizer contract suite against the Node mode, with a graph of one pod."""

from __future__ import annotations

import pytest

from kernel.authentication import UserInfo
from kernel.authorization import Decision
from kernel.testing.contracts import AuthorizerContract, Case, non_resource, resource
from kernel_api_rbac.bootstrappolicy import node_rules
from kernel_authz_node.graph import Graph
from kernel_authz_node.graph_populator import GraphPopulator
from kernel_authz_node.node_authorizer import NodeAuthorizer

N1 = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))
N2 = UserInfo("system:node:n2", groups=("system:nodes", "system:authenticated"))
NOT_A_NODE = UserInfo("system:node:n1", groups=("developers", "system:authenticated"))
POD = {"metadata": {"name": "web", "namespace": "default", "uid": "u1"},
       "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}],
                "volumes": [{"name": "s", "secret": {"secretName": "mounted"}}]}}


class TestNodeContract(AuthorizerContract):
    # The mode needs the core group (its informers): the suite's --plugins gets it too.
    plugin, mode = "api_core,authz_node", "Node"

    @pytest.fixture
    def authorizer(self) -> NodeAuthorizer:
        graph = Graph()
        GraphPopulator(graph).add_pod(POD)
        return NodeAuthorizer(graph, node_rules())

    @pytest.fixture
    def cases(self) -> list[Case]:
        secret = lambda user, name: resource(user, "get", "secrets", namespace="default", name=name)  # noqa: E731
        return [
            Case(resource(N1, "get", "services", namespace="default"), Decision.ALLOW),
            Case(resource(N1, "get", "nodes", name="n1"), Decision.ALLOW),
            Case(resource(N1, "get", "nodes", name="n2"), Decision.NO_OPINION),
            Case(resource(N1, "patch", "nodes", name="n1", subresource="status"), Decision.ALLOW),
            Case(resource(N1, "get", "pods", namespace="default", name="web", subresource="log"),
                 Decision.NO_OPINION),
            Case(resource(N1, "delete", "services", namespace="default", name="kubernetes"),
                 Decision.NO_OPINION),
            Case(non_resource(N1, "get", "/metrics"), Decision.NO_OPINION),
            Case(resource(NOT_A_NODE, "get", "services", namespace="default"), Decision.NO_OPINION),
            Case(resource("jane", "get", "services", namespace="default"), Decision.NO_OPINION),
            # the graph: secret "mounted" is n1's only (the server's graph is empty: these
            # refusals hold there too, with the same reason)
            Case(secret(N1, "unused"), Decision.NO_OPINION),
            Case(secret(N2, "mounted"), Decision.NO_OPINION),
        ]
