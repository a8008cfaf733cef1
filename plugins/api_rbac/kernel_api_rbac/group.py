"""RBACGroup: the rbac.authorization.k8s.io/v1 APIGroup, and the one rule resolver and
aggregation controller of its server (found by other plugins through
``context.component("api_groups", "rbac.authorization.k8s.io/v1")``)."""

from __future__ import annotations

from typing import Any

import msgspec

from kernel.context import ServerContext
from kernel.endpoints.apigroup import APIGroup

from kernel_api_rbac.aggregation import AggregationController
from kernel_api_rbac.resources import GROUP, RESOURCES, VERSION
from kernel_api_rbac.ruleresolver import RuleResolver, informer_resolver

GROUP_VERSION = f"{GROUP}/{VERSION}"


class RBACGroup(APIGroup, frozen=True):
    context: ServerContext | None = None
    _shared: dict[str, Any] = msgspec.field(default_factory=dict)  # what the properties build

    @property
    def rule_resolver(self) -> RuleResolver:
        """This server's resolver over its RBAC informers (built on first use: the informers
        exist once the group's stores do)."""
        if "resolver" not in self._shared:
            assert self.context is not None
            self._shared["resolver"] = informer_resolver(self.context.informer)
        return self._shared["resolver"]

    @property
    def aggregation(self) -> AggregationController:
        if "aggregation" not in self._shared:
            assert self.context is not None
            self._shared["aggregation"] = AggregationController(self.context)
        return self._shared["aggregation"]


def rbac_group(context: ServerContext) -> RBACGroup:
    group = context.component("api_groups", GROUP_VERSION)
    if not isinstance(group, RBACGroup):
        raise RuntimeError(f"{GROUP_VERSION} is not served by api_rbac")
    return group


def make_group(context: ServerContext) -> RBACGroup:
    return RBACGroup(GROUP, VERSION, RESOURCES, context=context)
