"""API discovery: /api, /apis, /apis/<group>, /api/v1 and /apis/<group>/<version>.

Follows k8s.io/apiserver pkg/endpoints/discovery. /api and /apis serve two formats picked by the
Accept header: a media range asking for ``as=APIGroupDiscoveryList`` (apidiscovery.k8s.io v2, or
v2beta1, which kube 1.32 still serves) gets the aggregated document, any other JSON range the
legacy one. kubectl only parses the aggregated body when the Content-Type names it exactly, so
it is echoed back as kube writes it. Like kube's aggregated discovery manager, a document is
built and encoded on its first request and kept for the handler's set of groups
(kernel.server.apigroups makes new handlers when a group is added or removed while serving).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import msgspec

from kernel.endpoints.apigroup import APIGroup
from kernel.apimachinery import status
from kernel.registry.resource import ResourceSpec
from kernel.endpoints.request import JSON, Handler, Request

Document = dict[str, Any]

AGGREGATED_GROUP = "apidiscovery.k8s.io"
AGGREGATED_KIND = "APIGroupDiscoveryList"
AGGREGATED_VERSIONS = ("v2", "v2beta1")
CONVERSION_PARAMS = ("as", "g", "v")

#: Subresource → (verbs, (group, version, kind) answered, or None for the parent's kind).
SUBRESOURCES: Mapping[str, tuple[tuple[str, ...], tuple[str, str, str] | None]] = {
    "status": (("get", "patch", "update"), None),
    "scale": (("get", "patch", "update"), ("autoscaling", "v1", "Scale")),
    "ephemeralcontainers": (("get", "patch", "update"), None),
    "resize": (("get", "patch", "update"), None),
    "approval": (("get", "patch", "update"), None),
    "finalize": (("update",), None),
    "binding": (("create",), ("", "v1", "Binding")),
    "eviction": (("create",), ("policy", "v1", "Eviction")),
    "token": (("create",), ("authentication.k8s.io", "v1", "TokenRequest")),
    "log": (("get",), None),
}
DEFAULT_SUBRESOURCE: tuple[tuple[str, ...], None] = (("get", "patch", "update"), None)


# -- content negotiation ------------------------------------------------------------------------

class MediaRange(msgspec.Struct, frozen=True):
    """One entry of an Accept header."""

    type: str
    subtype: str
    params: Mapping[str, str] = msgspec.field(default_factory=dict)
    q: float = 1.0

    def matches(self, type_: str, subtype: str) -> bool:
        return self.type in ("*", type_) and self.subtype in ("*", subtype)


def parse_accept(header: str) -> list[MediaRange]:
    """Media ranges, most preferred first (by q, then concrete before wildcards, then order).

    Ranges with q=0 are refused by the client and left out; an empty header accepts anything.
    """
    ranges: list[MediaRange] = []
    for part in (header or "*/*").split(","):
        media, *raw_params = (p.strip() for p in part.split(";"))
        type_, _, subtype = media.lower().partition("/")
        if media == "*":
            type_, subtype = "*", "*"
        if not type_ or not subtype:
            continue
        params: dict[str, str] = {}
        q = 1.0
        for raw in raw_params:
            key, _, value = raw.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
            elif key:
                params[key] = value
        if q > 0:
            ranges.append(MediaRange(type_, subtype, params, q))
    # sorted() is stable: equal ranges keep the client's order.
    return sorted(ranges, key=lambda r: (-r.q, r.type == "*", r.subtype == "*"))


def negotiate_discovery(accept: str, aggregated: bool) -> str | None:
    """``"v2"``/``"v2beta1"`` for aggregated discovery, ``""`` for legacy JSON, None for 406.

    Like kube's DiscoveryEndpointRestrictions, a range asking for a conversion (``as``/``g``/``v``)
    other than APIGroupDiscoveryList is skipped, not answered with something else.
    """
    for media in parse_accept(accept):
        if not media.matches("application", "json"):
            continue  # YAML and protobuf are not served for discovery
        if any(p in media.params for p in CONVERSION_PARAMS):
            if (aggregated and media.params.get("g") == AGGREGATED_GROUP
                    and media.params.get("as") == AGGREGATED_KIND
                    and media.params.get("v") in AGGREGATED_VERSIONS):
                return media.params["v"]
            continue
        return ""
    return None


def aggregated_content_type(version: str) -> bytes:
    return f"application/json;g={AGGREGATED_GROUP};v={version};as={AGGREGATED_KIND}".encode()


# -- caching ------------------------------------------------------------------------------------

def etag_of(body: bytes) -> str:
    """kube's ETag: SHA-512 of the encoded body, upper-case hex, quoted."""
    return '"' + hashlib.sha512(body).hexdigest().upper() + '"'


def not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match", "")
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in tags or "*" in tags


async def send_document(request: Request, body: bytes, etag: str, content_type: bytes = JSON,
                        headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """Answer ``body`` with its ETag, or 304 when the client already has it."""
    all_headers = [(b"etag", etag.encode()), (b"vary", b"Accept"), *headers]
    if not_modified(request, etag):
        await request.send({"type": "http.response.start", "status": 304, "headers": all_headers})
        await request.send({"type": "http.response.body", "body": b""})
        return
    await request.respond(200, body, content_type, all_headers)


def not_acceptable() -> status.StatusError:
    return status.StatusError(406, "NotAcceptable",
                              "only the following media types are accepted: application/json")


# -- ordering -----------------------------------------------------------------------------------

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key for kube-aware version order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > other."""
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    return ({None: 0, "beta": 1, "alpha": 2}[stage], -int(major), -int(minor or 0), "")


def sort_groups(groups: Iterable[APIGroup]) -> list[tuple[str, list[APIGroup]]]:
    """(group name, its group-versions with the preferred first); core first, then by name."""
    by_name: dict[str, list[APIGroup]] = {}
    for group in groups:
        by_name.setdefault(group.group, []).append(group)
    return [(name, sorted(by_name[name], key=lambda g: version_priority(g.version)))
            for name in sorted(by_name, key=lambda n: (n != "", n))]


# -- legacy documents ---------------------------------------------------------------------------

def storage_version_hash(group: str, version: str, kind: str) -> str:
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _subresource_info(spec: ResourceSpec, name: str,
                      ) -> tuple[tuple[str, ...], tuple[str, str, str] | None]:
    """(verbs, request kind) of a subresource: as the spec declares it, else kube's usual ones."""
    custom = spec.custom_subresources.get(name)
    if custom is not None:
        return tuple(custom.verbs), (custom.group, custom.version, custom.kind)
    return SUBRESOURCES.get(name, DEFAULT_SUBRESOURCE)


def api_resources(spec: ResourceSpec) -> list[Document]:
    """The APIResource entries of one resource: itself, then ``<plural>/<subresource>``."""
    resource: Document = {"name": spec.plural, "singularName": spec.singular,
                          "namespaced": spec.namespaced, "kind": spec.kind,
                          "verbs": sorted(spec.verbs)}
    if spec.short_names:
        resource["shortNames"] = list(spec.short_names)
    if spec.categories:
        resource["categories"] = list(spec.categories)
    stored = spec.conversion  # kube hashes the storage version
    resource["storageVersionHash"] = (
        storage_version_hash(stored.group, stored.version, stored.kind) if stored and stored.version
        else storage_version_hash(spec.group, spec.version, spec.kind))
    entries = [resource]
    for sub in spec.subresources:
        verbs, gvk = _subresource_info(spec, sub)
        entry: Document = {"name": f"{spec.plural}/{sub}", "singularName": "",
                           "namespaced": spec.namespaced}
        if gvk is not None:
            if gvk[0] != spec.group:
                entry["group"] = gvk[0]
            if gvk[0] != spec.group or gvk[1] != spec.version:
                entry["version"] = gvk[1]
        entry["kind"] = gvk[2] if gvk else spec.kind
        entry["verbs"] = list(verbs)
        entries.append(entry)
    return entries


def api_resource_list(group: APIGroup) -> Document:
    resources = [entry for spec in group.resources for entry in api_resources(spec)]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group.group_version,
            "resources": sorted(resources, key=lambda r: r["name"])}


def api_versions(groups: Iterable[APIGroup], server_address: str) -> Document:
    """``/api``: the core group's versions."""
    core = dict(sort_groups(groups)).get("", [])
    return {"kind": "APIVersions", "apiVersion": "v1", "versions": [g.version for g in core],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def _group_entry(name: str, versions: Sequence[APIGroup]) -> Document:
    listed = [{"groupVersion": g.group_version, "version": g.version} for g in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def api_group(name: str, versions: Sequence[APIGroup]) -> Document:
    """``/apis/<group>``."""
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(name, versions)}


def api_group_list(groups: Iterable[APIGroup]) -> Document:
    """``/apis``: every named group (the core group is under /api)."""
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_entry(name, versions)
                       for name, versions in sort_groups(groups) if name]}


# -- aggregated documents -----------------------------------------------------------------------

def _gvk(group: str, version: str, kind: str) -> Document:
    return {"group": group, "version": version, "kind": kind}


def resource_discovery(spec: ResourceSpec) -> Document:
    """One apidiscovery APIResourceDiscovery."""
    entry: Document = {"resource": spec.plural,
                       "responseKind": _gvk(spec.group, spec.version, spec.kind),
                       "scope": "Namespaced" if spec.namespaced else "Cluster",
                       "singularResource": spec.singular, "verbs": sorted(spec.verbs)}
    if spec.short_names:
        entry["shortNames"] = list(spec.short_names)
    if spec.categories:
        entry["categories"] = list(spec.categories)
    subresources = []
    for sub in sorted(spec.subresources):  # kube derives these from the sorted resource list
        verbs, gvk = _subresource_info(spec, sub)
        subresources.append({"subresource": sub,
                             "responseKind": _gvk(*gvk) if gvk else entry["responseKind"],
                             "verbs": list(verbs)})
    if subresources:
        entry["subresources"] = subresources
    return entry


def aggregated_discovery(groups: Iterable[APIGroup], *, core: bool,
                         version: str = "v2") -> Document:
    """The APIGroupDiscoveryList of ``/api`` (``core=True``) or ``/apis``."""
    items: list[Document] = []
    for name, versions in sort_groups(groups):
        if (name == "") != core:
            continue
        items.append({
            "metadata": {"name": name} if name else {},
            "versions": [{"version": g.version,
                          "resources": sorted((resource_discovery(s) for s in g.resources),
                                              key=lambda r: r["resource"]),
                          "freshness": "Current"} for g in versions],
        })
    return {"kind": AGGREGATED_KIND, "apiVersion": f"{AGGREGATED_GROUP}/{version}",
            "metadata": {}, "items": items}


# -- handlers -----------------------------------------------------------------------------------

class Encoded(msgspec.Struct, frozen=True):
    body: bytes
    etag: str

    @classmethod
    def of(cls, document: Document) -> Encoded:
        body = msgspec.json.encode(document)
        return cls(body, etag_of(body))


def server_address(request: Request) -> str:
    """host:port the client reached us at (kube answers its external address)."""
    host = request.headers.get("host")
    if host:
        return host
    server = request.scope.get("server") or ("", 0)
    host, port = server[0], server[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def lazily_encoded(build: Callable[[], Document]) -> Callable[[], Encoded]:
    """``build``'s document, built and encoded on the first call; the same bytes after."""
    return functools.cache(lambda: Encoded.of(build()))


def _root_handler(groups: Sequence[APIGroup], core: bool) -> Handler:
    """``/api`` or ``/apis``: aggregated or legacy by the Accept header."""
    aggregated = {v: lazily_encoded(functools.partial(aggregated_discovery, groups, core=core,
                                                      version=v))
                  for v in AGGREGATED_VERSIONS}
    legacy = None if core else lazily_encoded(functools.partial(api_group_list, groups))

    async def handler(request: Request) -> None:
        chosen = negotiate_discovery(request.headers.get("accept", ""), aggregated=True)
        if chosen is None:
            await request.respond_error(not_acceptable())
        elif chosen:
            doc = aggregated[chosen]()
            await send_document(request, doc.body, doc.etag, aggregated_content_type(chosen),
                                [(b"cache-control", b"public")])
        else:
            # /api names the address the client used, so it is encoded per request.
            doc = legacy() if legacy else Encoded.of(api_versions(groups, server_address(request)))
            await send_document(request, doc.body, doc.etag)

    return handler


def _static_handler(build: Callable[[], Document]) -> Handler:
    encoded = lazily_encoded(build)

    async def handler(request: Request) -> None:
        if negotiate_discovery(request.headers.get("accept", ""), aggregated=False) is None:
            await request.respond_error(not_acceptable())
            return
        doc = encoded()
        await send_document(request, doc.body, doc.etag)

    return handler


class Mountable(Protocol):
    """What the install functions need of the APIServer."""

    api_groups: dict[str, APIGroup]
    non_resource: dict[str, Handler]


def install_discovery(server: Mountable) -> None:
    """Mount discovery for the server's groups (prepare_run, once every group is known)."""
    server.non_resource.update(discovery_routes(server.api_groups.values()))


def discovery_routes(groups: Iterable[APIGroup]) -> dict[str, Handler]:
    """Every discovery path → its handler, for ``server.non_resource.update(...)``; each document
    is built on its handler's first request.

    A group-version that has no ResourceSpecs but its own handler keeps ``/apis/<g>/<v>`` (it
    serves its own resource list); it is still listed in ``/apis``.
    """
    groups = list(groups)
    routes: dict[str, Handler] = {"/api": _root_handler(groups, core=True),
                                  "/apis": _root_handler(groups, core=False)}
    for name, versions in sort_groups(groups):
        if name:
            routes[f"/apis/{name}"] = _static_handler(functools.partial(api_group, name, versions))
        for group in versions:
            if group.resources or group.handler is None:
                routes[group.prefix] = _static_handler(functools.partial(api_resource_list, group))
    return routes
