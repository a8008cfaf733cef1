"""The meta.k8s.io components the generated paths refer to, as kube publishes them.

Resources contribute their own types (ObjectMeta, Time, ... included); these are the ones only
the generic endpoints use: request bodies (DeleteOptions, Patch), responses (Status, list
metadata, watch events) and the discovery documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kernel.apimachinery.schemas import (
    API_VERSION_DESCRIPTION, KIND_DESCRIPTION, LIST_META, LIST_METADATA_DESCRIPTION, META, Schema,
    meta_schemas as object_meta_schemas,
)

REF_PREFIX = "#/components/schemas/"

API_RESOURCE = META + "APIResource"
API_RESOURCE_LIST = META + "APIResourceList"
API_VERSIONS = META + "APIVersions"
API_GROUP = META + "APIGroup"
API_GROUP_LIST = META + "APIGroupList"
DELETE_OPTIONS = META + "DeleteOptions"
GROUP_VERSION_FOR_DISCOVERY = META + "GroupVersionForDiscovery"
PATCH = META + "Patch"
PRECONDITIONS = META + "Preconditions"
SERVER_ADDRESS = META + "ServerAddressByClientCIDR"
STATUS = META + "Status"
STATUS_CAUSE = META + "StatusCause"
STATUS_DETAILS = META + "StatusDetails"
WATCH_EVENT = META + "WatchEvent"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"

def ref(name: str, **siblings: Any) -> Schema:
    """A reference; with siblings (description, default) wrapped in allOf as kube 1.32 does."""
    if not siblings:
        return {"$ref": REF_PREFIX + name}
    return {"allOf": [{"$ref": REF_PREFIX + name}], **siblings}


def gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _string(description: str, default: bool = False) -> Schema:
    return {"default": "", "description": description, "type": "string"} if default \
        else {"description": description, "type": "string"}


def _strings(description: str) -> Schema:
    return {"description": description, "items": {"default": "", "type": "string"}, "type": "array"}


def _int(description: str, fmt: str = "int32") -> Schema:
    return {"description": description, "format": fmt, "type": "integer"}


def _array(of: str, description: str) -> Schema:
    return {"description": description, "items": ref(of, default={}), "type": "array"}


def _typed(properties: Schema) -> Schema:
    return {"apiVersion": _string(API_VERSION_DESCRIPTION), "kind": _string(KIND_DESCRIPTION),
            **properties}


def _core(kind: str) -> list[dict[str, str]]:
    return [gvk("", "v1", kind)]


def _kinded(every: list[dict[str, str]], kind: str) -> list[dict[str, str]]:
    """``kind`` in every served group-version (DeleteOptions and WatchEvent are in each)."""
    return [{**entry, "kind": kind} for entry in every]


def _api_group() -> Schema:
    return {
        "description": "APIGroup contains the name, the supported versions, and the "
                       "preferred version of a group.",
        "properties": _typed({
            "name": _string("name is the name of the group.", default=True),
            "preferredVersion": ref(GROUP_VERSION_FOR_DISCOVERY, default={}, description=(
                "preferredVersion is the version preferred by the API server, which "
                "probably is the storage version.")),
            "serverAddressByClientCIDRs": _array(SERVER_ADDRESS, (
                "a map of client CIDR to server address that is serving this group.")),
            "versions": _array(GROUP_VERSION_FOR_DISCOVERY,
                               "versions are the versions supported in this group."),
        }),
        "required": ["name", "versions"], "type": "object",
        "x-kubernetes-group-version-kind": _core("APIGroup"),
    }


def _api_group_list() -> Schema:
    return {
        "description": "APIGroupList is a list of APIGroup, to allow clients to discover "
                       "the API at /apis.",
        "properties": _typed({"groups": _array(API_GROUP, "groups is a list of APIGroup.")}),
        "required": ["groups"], "type": "object",
        "x-kubernetes-group-version-kind": _core("APIGroupList"),
    }


def _api_resource() -> Schema:
    return {
        "description": "APIResource specifies the name of a resource and whether it is "
                       "namespaced.",
        "properties": {
            "categories": _strings("categories is a list of the grouped resources this "
                                   "resource belongs to (e.g. 'all')"),
            "group": _string("group is the preferred group of the resource.  Empty implies "
                             "the group of the containing resource list."),
            "kind": _string("kind is the kind for the resource (e.g. 'Foo' is the kind for "
                            "a resource 'foo')", default=True),
            "name": _string("name is the plural name of the resource.", default=True),
            "namespaced": {"default": False, "type": "boolean", "description":
                           "namespaced indicates if a resource is namespaced or not."},
            "shortNames": _strings("shortNames is a list of suggested short names of the "
                                   "resource."),
            "singularName": _string("singularName is the singular name of the resource.",
                                    default=True),
            "storageVersionHash": _string("The hash value of the storage version, the "
                                          "version this resource is converted to when "
                                          "written to the data store."),
            "verbs": _strings("verbs is a list of supported kube verbs (this includes get, "
                              "list, watch, create, update, patch, delete, "
                              "deletecollection, and proxy)"),
            "version": _string("version is the preferred version of the resource.  Empty "
                               "implies the version of the containing resource list."),
        },
        "required": ["name", "singularName", "namespaced", "kind", "verbs"],
        "type": "object",
    }


def _api_resource_list() -> Schema:
    return {
        "description": "APIResourceList is a list of APIResource, it is used to expose the "
                       "name of the resources supported in a specific group and version, "
                       "and if the resource is namespaced.",
        "properties": _typed({
            "groupVersion": _string("groupVersion is the group and version this "
                                    "APIResourceList is for.", default=True),
            "resources": _array(API_RESOURCE, "resources contains the name of the "
                                "resources and if they are namespaced."),
        }),
        "required": ["groupVersion", "resources"], "type": "object",
        "x-kubernetes-group-version-kind": _core("APIResourceList"),
    }


def _api_versions() -> Schema:
    return {
        "description": "APIVersions lists the versions that are available, to allow "
                       "clients to discover the API at /api, which is the root path of the "
                       "legacy v1 API.",
        "properties": _typed({
            "serverAddressByClientCIDRs": _array(SERVER_ADDRESS, (
                "a map of client CIDR to server address that is serving this group.")),
            "versions": _strings("versions are the api versions that are available."),
        }),
        "required": ["versions", "serverAddressByClientCIDRs"], "type": "object",
        "x-kubernetes-group-version-kind": _core("APIVersions"),
    }


def _delete_options(every: list[dict[str, str]]) -> Schema:
    return {
        "description": "DeleteOptions may be provided when deleting an API object.",
        "properties": _typed({
            "dryRun": _strings("When present, indicates that modifications should not be "
                               "persisted. Valid values are: - All: all dry run stages "
                               "will be processed"),
            "gracePeriodSeconds": _int("The duration in seconds before the object should "
                                       "be deleted. The value zero indicates delete "
                                       "immediately.", "int64"),
            "orphanDependents": {"type": "boolean", "description": (
                "Deprecated: please use the PropagationPolicy. Should the dependent "
                "objects be orphaned.")},
            "preconditions": ref(PRECONDITIONS, description=(
                "Must be fulfilled before a deletion is carried out. If not possible, a "
                "409 Conflict status will be returned.")),
            "propagationPolicy": _string("Whether and how garbage collection will be "
                                         "performed: 'Orphan', 'Background' or "
                                         "'Foreground'."),
        }),
        "type": "object",
        "x-kubernetes-group-version-kind": _kinded(every, "DeleteOptions"),
    }


def _group_version_for_discovery() -> Schema:
    discovery_gv = {
        "groupVersion": _string('groupVersion specifies the API group and version in the form '
                                '"group/version"', default=True),
        "version": _string('version specifies the version in the form of "version". This is '
                           'to save the clients the trouble of splitting the GroupVersion.',
                           default=True),
    }
    return {
        "description": "GroupVersion contains the \"group/version\" and \"version\" string "
                       "of a version. It is made a struct to keep extensibility.",
        "properties": discovery_gv, "required": ["groupVersion", "version"],
        "type": "object",
    }


def _patch() -> Schema:
    return {
        "description": "Patch is provided to give a concrete name and type to the "
                       "Kubernetes PATCH request body.",
        "type": "object",
    }


def _preconditions() -> Schema:
    return {
        "description": "Preconditions must be fulfilled before an operation (update, "
                       "delete, etc.) is carried out.",
        "properties": {"resourceVersion": _string("Specifies the target ResourceVersion"),
                       "uid": _string("Specifies the target UID.")},
        "type": "object",
    }


def _server_address() -> Schema:
    return {
        "description": "ServerAddressByClientCIDR helps the client to determine the server "
                       "address that they should use, depending on the clientCIDR that "
                       "they match.",
        "properties": {
            "clientCIDR": _string("The CIDR with which clients can match their IP to figure "
                                  "out the server address that they should use.",
                                  default=True),
            "serverAddress": _string("Address of this server, suitable for a client that "
                                     "matches the above CIDR. This can be a hostname, "
                                     "hostname:port, IP or IP:port.", default=True),
        },
        "required": ["clientCIDR", "serverAddress"], "type": "object",
    }


def _status() -> Schema:
    return {
        "description": "Status is a return value for calls that don't return other "
                       "objects.",
        "properties": _typed({
            "code": _int("Suggested HTTP return code for this status, 0 if not set."),
            "details": ref(STATUS_DETAILS, description=(
                "Extended data associated with the reason.  Each reason may define its own "
                "extended details.")),
            "message": _string("A human-readable description of the status of this "
                               "operation."),
            "metadata": ref(LIST_META, default={}, description=LIST_METADATA_DESCRIPTION),
            "reason": _string("A machine-readable description of why this operation is in "
                              "the \"Failure\" status."),
            "status": _string("Status of the operation. One of: \"Success\" or "
                              "\"Failure\"."),
        }),
        "type": "object",
        "x-kubernetes-group-version-kind": _core("Status"),
    }


def _status_cause() -> Schema:
    return {
        "description": "StatusCause provides more information about an api.Status failure, "
                       "including cases when multiple errors are encountered.",
        "properties": {
            "field": _string("The field of the resource that has caused this error, as "
                             "named by its JSON serialization."),
            "message": _string("A human-readable description of the cause of the error."),
            "reason": _string("A machine-readable description of the cause of the error."),
        },
        "type": "object",
    }


def _status_details() -> Schema:
    return {
        "description": "StatusDetails is a set of additional properties that MAY be set by "
                       "the server to provide additional information about a response.",
        "properties": {
            "causes": _array(STATUS_CAUSE, "The Causes array includes more details "
                             "associated with the StatusReason failure."),
            "group": _string("The group attribute of the resource associated with the "
                             "status StatusReason."),
            "kind": _string("The kind attribute of the resource associated with the status "
                            "StatusReason."),
            "name": _string("The name attribute of the resource associated with the status "
                            "StatusReason (when there is a single name which can be "
                            "described)."),
            "retryAfterSeconds": _int("If specified, the time in seconds before the "
                                      "operation should be retried."),
            "uid": _string("UID of the resource. (when there is a single resource which "
                           "can be described)."),
        },
        "type": "object",
    }


def _watch_event(every: list[dict[str, str]]) -> Schema:
    return {
        "description": "Event represents a single event to a watched resource.",
        "properties": {
            "object": ref(RAW_EXTENSION, default={}, description=(
                "Object is:\n * If Type is Added or Modified: the new state of the object.\n"
                " * If Type is Deleted: the state of the object immediately before "
                "deletion.\n * If Type is Error: *Status is recommended; other types may "
                "make sense\n   depending on context.")),
            "type": {"default": "", "type": "string"},
        },
        "required": ["type", "object"], "type": "object",
        "x-kubernetes-group-version-kind": _kinded(every, "WatchEvent"),
    }


def _raw_extension() -> Schema:
    return {
        "description": "RawExtension is used to hold extensions in external versions.",
        "type": "object",
    }


def meta_schemas(group_versions: Iterable[tuple[str, str]] = ()) -> dict[str, Schema]:
    """The meta components; DeleteOptions and WatchEvent name every served group-version.

    One builder per type, so every call returns fresh dicts (callers add GVKs to their copies).
    """
    every = [gvk("", "v1", "")] + [gvk(g, v, "") for g, v in sorted(set(group_versions)) if g]
    return {
        API_GROUP: _api_group(),
        API_GROUP_LIST: _api_group_list(),
        API_RESOURCE: _api_resource(),
        API_RESOURCE_LIST: _api_resource_list(),
        API_VERSIONS: _api_versions(),
        DELETE_OPTIONS: _delete_options(every),
        GROUP_VERSION_FOR_DISCOVERY: _group_version_for_discovery(),
        LIST_META: object_meta_schemas()[LIST_META],  # one definition, shared with resources
        PATCH: _patch(),
        PRECONDITIONS: _preconditions(),
        SERVER_ADDRESS: _server_address(),
        STATUS: _status(),
        STATUS_CAUSE: _status_cause(),
        STATUS_DETAILS: _status_details(),
        WATCH_EVENT: _watch_event(every),
        RAW_EXTENSION: _raw_extension(),
    }
