"""Reads of the objects a token names: the shared informers first, the registry on a miss.

kube's token getter reads listers and falls back to a live read when the lister does not have
the object yet (a token issued for a pod created a moment ago). The informers are in memory, so
the per-request cost of validating a token is a few dict lookups.
"""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.status import StatusError

Object = dict[str, Any]


class ObjectGetter:
    """``await get(resource, namespace, name)`` of core-group serviceaccounts, pods, secrets and
    nodes; None when the object does not exist."""

    RESOURCES = ("serviceaccounts", "pods", "secrets", "nodes")

    def __init__(self, context: Any) -> None:
        self._context = context
        self._informers = {resource: context.informer("", resource) for resource in self.RESOURCES}

    async def get(self, resource: str, namespace: str, name: str) -> Object | None:
        obj = self._informers[resource].get(name, namespace)
        if obj is not None:
            return obj
        try:
            return await self._context.store("", resource).get(namespace, name)
        except StatusError as error:
            if error.code == 404:
                return None
            raise
