"""RequestInfo: what a request is about, derived from its path, method and query.

Follows k8s.io/apiserver's RequestInfoFactory: ``/api/v1/...`` and ``/apis/<group>/<version>/...``
are resource requests (verb from the method, ``list``/``watch`` for GETs without a name,
``deletecollection`` for DELETEs without one); everything else is a non-resource request whose
verb is the lower-cased method.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from kernel.apimachinery import status

API_PREFIXES = frozenset({"api", "apis"})
GROUPLESS_PREFIXES = frozenset({"api"})
SPECIAL_VERBS = frozenset({"proxy", "watch"})
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete"}


class RequestInfo(msgspec.Struct):
    path: str
    verb: str
    is_resource_request: bool = False
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: list[str] = msgspec.field(default_factory=list)
    # The raw selectors of a list, watch or deletecollection (kube ≥ 1.31 authorizes with them).
    field_selector: str = ""
    label_selector: str = ""

    @property
    def is_long_running(self) -> bool:
        return self.verb in LONG_RUNNING_VERBS or self.subresource in LONG_RUNNING_SUBRESOURCES

    @property
    def is_mutating(self) -> bool:
        return self.verb not in ("get", "list", "watch")


def _watch_requested(query: Mapping[str, list[str]]) -> bool:
    values = query.get("watch")
    return bool(values) and values[0].lower() not in ("false", "0")


def _name_from_field_selector(query: Mapping[str, list[str]]) -> str:
    selector = (query.get("fieldSelector") or [""])[0]
    for term in selector.split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and key.strip() == "metadata.name" and "!" not in key:
            value = value.strip()
            if value not in (".", "..") and "/" not in value and "%" not in value:
                return value
    return ""


def new_request_info(method: str, path: str, query: Mapping[str, list[str]]) -> RequestInfo:
    """RequestInfoFactory.NewRequestInfo, from the parts of a request it reads."""
    info = RequestInfo(path=path, verb=method.lower())
    parts = path.strip("/").split("/")
    if len(parts) < 3 or parts[0] not in API_PREFIXES:
        return info
    info.api_prefix, parts = parts[0], parts[1:]
    if info.api_prefix not in GROUPLESS_PREFIXES:
        if len(parts) < 3:
            return info
        info.api_group, parts = parts[0], parts[1:]
    info.is_resource_request = True
    info.api_version, parts = parts[0], parts[1:]

    if parts[0] in SPECIAL_VERBS:
        if len(parts) < 2:
            raise status.bad_request(f"unable to determine kind and namespace from url {path}")
        info.verb, parts = parts[0], parts[1:]
    else:
        info.verb = METHOD_VERBS.get(method, "")

    if parts[0] == "namespaces":
        if len(parts) > 1:
            info.namespace = parts[1]
            if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
                parts = parts[2:]
    info.parts = parts
    if len(parts) >= 3 and info.verb != "proxy":
        info.subresource = parts[2]
    if len(parts) >= 2:
        info.name = parts[1]
    info.resource = parts[0]

    if not info.name and info.verb == "get":
        info.verb = "watch" if _watch_requested(query) else "list"
        info.name = _name_from_field_selector(query)
    if not info.name and info.verb == "delete":
        info.verb = "deletecollection"
    if info.verb in ("list", "watch", "deletecollection"):
        info.field_selector = (query.get("fieldSelector") or [""])[0]
        info.label_selector = (query.get("labelSelector") or [""])[0]
    return info
