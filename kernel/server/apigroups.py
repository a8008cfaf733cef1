"""API group-versions installed and removed while serving (kube's GenericAPIServer.InstallAPIGroup
plus the dynamic discovery managers apiextensions-apiserver updates for CustomResourceDefinitions).

``install_group`` builds a group's registries over shared watch caches and mounts its REST
handler; ``refresh_documents`` marks discovery (legacy and aggregated) and the OpenAPI v2/v3
documents stale: the next request for one builds it from the current groups, so their ETags and
``?hash=`` URLs change with them (nothing is built at startup or per change: a CRD storm costs
one build, when a client next asks). At startup the kernel calls both for the plugins' groups; a
plugin calls ``add_api_group`` and ``remove_api_group`` (through ``context.install_api_group`` /
``context.remove_api_group``) while serving.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from kernel.endpoints.apigroup import APIGroup
from kernel.endpoints.discovery import discovery_routes
from kernel.endpoints.handlers import ResourceHandler
from kernel.endpoints.request import Handler
from kernel.endpoints.openapi import OpenAPIService
from kernel.registry.conversion import ConvertingStorage
from kernel.registry.store import Store
from kernel.server.subresources import attach
from kernel.storage.cacher import Cacher
from kernel.storage.instrumented import InstrumentedStorage
from kernel.version import version_info

# The kernel.server.genericapiserver.APIServer (imported by name it would be an import cycle).
APIServer = Any

log = logging.getLogger("kernel")


def _cacher_for(server: APIServer, stored: tuple[str, str], prefix: str) -> tuple[Cacher, bool]:
    """The watch cache of a stored resource, shared by every group-version serving it; True when
    it was made now (and must be started)."""
    cacher = server.cachers_by_key.get(stored)
    if cacher is not None and not cacher.closed:
        return cacher, False
    resource = f"{stored[1]}.{stored[0]}" if stored[0] else stored[1]
    timed = InstrumentedStorage(server.storage, server.metrics.storage_timer(
        server.options.storage_backend, resource))
    cacher = Cacher(timed, prefix)
    server.cachers.append(cacher)
    server.cachers_by_resource[resource] = cacher
    server.cachers_by_key[stored] = cacher
    return cacher, True


def install_group(server: APIServer, group: APIGroup) -> list[Cacher]:
    """Serve ``group`` (replacing a group-version of the same prefix); returns the watch caches
    made for it, which the caller starts (before serving: ``run`` starts every cache)."""
    new: list[Cacher] = []
    group = attach(group, server.subresources)  # plugins' subresources (serviceaccounts/token)
    handler = group.handler
    if group.resources:
        stores: dict[str, Any] = {}
        for spec in group.resources:
            rest = group.storage.get(spec.plural)
            if rest is None:  # the generic registry over the watch cache
                cacher, made = _cacher_for(server, spec.storage_resource, spec.storage_prefix)
                if made:
                    new.append(cacher)
                view = ConvertingStorage(cacher, spec.conversion) if spec.conversion else cacher
                rest = server.stores[(spec.group, spec.plural)] = Store(spec, view, server.admission)
            stores[spec.plural] = rest
        handler = ResourceHandler(stores, server.signals.not_accepting_new_requests,
                                  lookup=server.context.store)
    server.api_groups[group.prefix] = group
    if handler is not None:
        server.group_handlers[group.prefix] = handler
    else:
        server.group_handlers.pop(group.prefix, None)
    return new


def _served_storage(server: APIServer) -> set[tuple[str, str]]:
    return {spec.storage_resource for group in server.api_groups.values()
            for spec in group.resources if spec.plural not in group.storage}


async def _drop_unserved(server: APIServer, removed: APIGroup) -> None:
    """Forget the registries and close the watch caches of ``removed``'s resources that no
    group-version serves any more (their open watches end)."""
    still = _served_storage(server)
    for spec in removed.resources:
        key = (spec.group, spec.plural)
        others = [g for g in server.api_groups.values() if g.group == spec.group
                  and any(s.plural == spec.plural for s in g.resources)]
        handler = server.group_handlers.get(others[0].prefix) if others else None
        if isinstance(handler, ResourceHandler) and spec.plural in handler.stores:
            server.stores[key] = handler.stores[spec.plural]
        elif not others:
            server.stores.pop(key, None)
        stored = spec.storage_resource
        cacher = server.cachers_by_key.get(stored)
        if cacher is None or stored in still:
            continue
        del server.cachers_by_key[stored]
        resource = f"{stored[1]}.{stored[0]}" if stored[0] else stored[1]
        server.cachers_by_resource.pop(resource, None)
        if cacher in server.cachers:
            server.cachers.remove(cacher)
        await cacher.close()


async def uninstall_group(server: APIServer, group_name: str, version: str) -> APIGroup | None:
    """Stop serving a group-version: its handler, its registries, and the watch caches no other
    group-version still uses. Stored objects stay in storage."""
    prefix = APIGroup(group_name, version).prefix
    group = server.api_groups.pop(prefix, None)
    if group is None:
        return None
    server.group_handlers.pop(prefix, None)
    await _drop_unserved(server, group)
    return group


def is_document_path(path: str) -> bool:
    """Whether ``path`` can be a discovery or OpenAPI path (``/api``, ``/apis``, ``/api/<v>``,
    ``/apis/<g>``, ``/apis/<g>/<v>``, ``/openapi/...``), so resource requests never build the
    document routes."""
    if path.startswith("/openapi/"):
        return True
    depth = path.count("/")
    return (path.startswith("/apis") and depth <= 3) or (path.startswith("/api") and depth <= 2)


class APIDocuments:
    """The discovery and OpenAPI routes of the groups last published, made on first request.

    ``invalidate`` only keeps a snapshot of the groups (the documents must describe what was
    served when it was called, not a group half installed since); the route table, and each
    document behind it, is built when a client first asks for it (kube's aggregated discovery
    manager and kube-openapi's lazy handlers do the same).
    """

    def __init__(self) -> None:
        self._groups: tuple[APIGroup, ...] = ()
        self._routes: dict[str, Handler] | None = {}  # None: stale

    def invalidate(self, groups: Iterable[APIGroup]) -> None:
        self._groups = tuple(groups)
        self._routes = None

    def routes(self) -> dict[str, Handler]:
        if self._routes is None:
            routes = discovery_routes(self._groups)
            routes.update(OpenAPIService(self._groups, version_info()["gitVersion"]).routes())
            self._routes = routes
        return self._routes

    def handler(self, path: str) -> Handler | None:
        """The handler of a discovery or OpenAPI ``path`` (without its trailing slash), if any."""
        return self.routes().get(path) if is_document_path(path) else None


def refresh_documents(server: APIServer) -> None:
    """Publish discovery and OpenAPI for the current groups (dropping the paths of removed ones):
    the documents are built again on their next request."""
    server.documents.invalidate(server.api_groups.values())


async def add_api_group(server: APIServer, *groups: APIGroup) -> None:
    """Serve ``groups`` at once (each replacing the group-version of its prefix): start the watch
    caches they need, then publish them in discovery and OpenAPI, marked stale once for all of
    them and rebuilt on the next request."""
    if server.storage is None:
        raise RuntimeError("no storage backend: the server serves no API groups")
    nursery = getattr(server, "background", None)
    if nursery is None:
        raise RuntimeError("API groups are added while serving; at startup use kernel_api_groups")
    for group in groups:
        previous = server.api_groups.get(group.prefix)
        for cacher in install_group(server, group):
            await nursery.start(cacher.run)
        if previous is not None:  # a replaced group-version may have dropped resources
            await _drop_unserved(server, previous)
    refresh_documents(server)
    log.info("API group-versions installed: %s", ", ".join(g.group_version for g in groups))


async def remove_api_group(server: APIServer, group: str, *versions: str) -> bool:
    """Stop serving versions of a group and drop them from discovery (rebuilt on the next
    request); False if none of them was served."""
    removed = [gv for version in versions
               if (gv := await uninstall_group(server, group, version)) is not None]
    if not removed:
        return False
    refresh_documents(server)
    log.info("API group-versions removed: %s", ", ".join(g.group_version for g in removed))
    return True
