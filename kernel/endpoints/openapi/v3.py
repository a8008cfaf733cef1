"""OpenAPI v3 documents, one per group-version, generated from the ResourceSpecs.

The layout is kube's (k8s.io/apiserver pkg/endpoints/installer.go and openapi.go): one path per
URL (namespaced collection, all-namespaces list, item, subresources), operation ids such as
``patchCoreV1NamespacedConfigMap``, ``x-kubernetes-action`` and a single
``x-kubernetes-group-version-kind`` per operation, while component schemas carry the GVK as a
list. kubectl finds a kind's PATCH operation by that GVK and checks it takes ``fieldValidation``
before it sends ``create -f`` / ``apply -f`` / ``edit``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from kernel.endpoints.apigroup import APIGroup
from kernel.endpoints.discovery import sort_groups
from kernel.endpoints.openapi.index import document_keys
from kernel.endpoints.openapi import meta
from kernel.endpoints.openapi.meta import REF_PREFIX, Schema, gvk, ref
from kernel.registry.resource import ResourceSpec

log = logging.getLogger("kernel.openapi")

Document = dict[str, Any]

SCALE = "io.k8s.api.autoscaling.v1.Scale"
PATCH_CONTENT_TYPES = ("application/apply-patch+yaml", "application/json-patch+json",
                       "application/merge-patch+json", "application/strategic-merge-patch+json")
RESPONSE_TYPES = ("application/json", "application/yaml")
WATCH_TYPES = ("application/json;stream=watch",)
SECURITY_SCHEMES = {"BearerToken": {"description": "Bearer Token authentication",
                                    "in": "header", "name": "authorization", "type": "apiKey"}}

_PARAMS: dict[str, tuple[str, str]] = {
    "allowWatchBookmarks": ("boolean", 'allowWatchBookmarks requests watch events with type '
                            '"BOOKMARK". Servers that do not implement bookmarks may ignore '
                            'this flag. If this is not a watch, this field is ignored.'),
    "continue": ("string", "The continue option should be set when retrieving more results "
                 "from the server. Clients may only use the continue value from a previous "
                 "query result with identical query parameters (except for the value of "
                 "continue)."),
    "dryRun": ("string", "When present, indicates that modifications should not be persisted. "
               "An invalid or unrecognized dryRun directive will result in an error response "
               "and no further processing of the request. Valid values are: - All: all dry run "
               "stages will be processed"),
    "fieldManager": ("string", "fieldManager is a name associated with the actor or entity "
                     "that is making these changes. The value must be less than or 128 "
                     "characters long, and only contain printable characters. This field is "
                     "required for apply requests (application/apply-patch)."),
    "fieldSelector": ("string", "A selector to restrict the list of returned objects by their "
                      "fields. Defaults to everything."),
    "fieldValidation": ("string", "fieldValidation instructs the server on how to handle "
                        "objects in the request (POST/PUT/PATCH) containing unknown or "
                        "duplicate fields. Valid values are: - Ignore - Warn - Strict"),
    "force": ("boolean", 'Force is going to "force" Apply requests. It means user will '
              're-acquire conflicting fields owned by other people. Force flag must be unset '
              'for non-apply patch requests.'),
    "gracePeriodSeconds": ("integer", "The duration in seconds before the object should be "
                           "deleted. Value must be non-negative integer. The value zero "
                           "indicates delete immediately."),
    "labelSelector": ("string", "A selector to restrict the list of returned objects by their "
                      "labels. Defaults to everything."),
    "limit": ("integer", "limit is a maximum number of responses to return for a list call. "
              "If more items exist, the server will set the `continue` field on the list "
              "metadata to a value that can be used with the same initial query to retrieve "
              "the next set of results."),
    "orphanDependents": ("boolean", "Deprecated: please use the PropagationPolicy. Should the "
                         "dependent objects be orphaned."),
    "pretty": ("string", "If 'true', then the output is pretty printed. Defaults to 'false' "
               "unless the user-agent indicates a browser or command-line HTTP tool (curl and "
               "wget)."),
    "propagationPolicy": ("string", "Whether and how garbage collection will be performed. "
                          "Acceptable values are: 'Orphan', 'Background', 'Foreground'."),
    "resourceVersion": ("string", "resourceVersion sets a constraint on what resource versions "
                        "a request may be served from. See https://kubernetes.io/docs/"
                        "reference/using-api/api-concepts/#resource-versions for details.\n\n"
                        "Defaults to unset"),
    "resourceVersionMatch": ("string", "resourceVersionMatch determines how resourceVersion is "
                             "applied to list calls.\n\nDefaults to unset"),
    "sendInitialEvents": ("boolean", "`sendInitialEvents=true` may be set together with "
                          "`watch=true`. In that case, the watch stream will begin with "
                          "synthetic events to produce the current state of objects in the "
                          "collection."),
    "timeoutSeconds": ("integer", "Timeout for the list/watch call. This limits the duration "
                       "of the call, regardless of any activity or inactivity."),
    "watch": ("boolean", "Watch for changes to the described resources and return them as a "
              "stream of add, update, and remove notifications. Specify resourceVersion."),
}
LIST_PARAMS = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
               "resourceVersion", "resourceVersionMatch", "sendInitialEvents",
               "timeoutSeconds", "watch")
WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
DELETE_PARAMS = ("dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy")
DELETECOLLECTION_PARAMS = (*DELETE_PARAMS, "continue", "fieldSelector", "labelSelector",
                           "limit", "resourceVersion", "resourceVersionMatch",
                           "sendInitialEvents", "timeoutSeconds")


def query_param(name: str) -> Schema:
    type_, description = _PARAMS[name]
    return {"description": description, "in": "query", "name": name,
            "schema": {"type": type_, "uniqueItems": True}}


def path_param(name: str, description: str) -> Schema:
    return {"description": description, "in": "path", "name": name, "required": True,
            "schema": {"type": "string", "uniqueItems": True}}


def operation_id_part(text: str, capitalize: bool) -> str:
    """kube's ToValidOperationID: drop punctuation, capitalising the letter after it."""
    out, upper = [], capitalize
    for i, ch in enumerate(text):
        if ch.isalpha() or ch == "_" or (i and ch.isdigit()):
            out.append(ch.upper() if upper else ch)
            upper = False
        else:
            upper = True
    return "".join(out)


def _group_word(group: str) -> str:
    return (group or "core").removesuffix(".k8s.io")


def tag(group: str, version: str) -> str:
    return f"{operation_id_part(_group_word(group), False)}_{operation_id_part(version, False)}"


def _content(schema_name: str, types: Sequence[str]) -> Schema:
    return {t: {"schema": ref(schema_name)} for t in types}


def _responses(schema_name: str, codes: dict[str, str], types: Sequence[str] = RESPONSE_TYPES,
               ) -> Schema:
    responses: Schema = {code: {"content": _content(schema_name, types), "description": text}
                         for code, text in codes.items()}
    responses["401"] = {"description": "Unauthorized"}
    return responses


class _Operations:
    """The operations of one resource (or its subresource) in kube's shape."""

    def __init__(self, spec: ResourceSpec) -> None:
        # operationId = verb + group + version + what, e.g. patch|Core|V1|NamespacedConfigMap
        self.id_infix = operation_id_part(_group_word(spec.group), True) + \
            operation_id_part(spec.version, True)
        self.scope = "Namespaced" if spec.namespaced else ""
        self.tags = [tag(spec.group, spec.version)]
        self.spec, self.verbs, self.kind = spec, set(spec.verbs), spec.kind
        self.target = (spec.group, spec.version, spec.kind)

    def op(self, verb: str, name: str, action: str, description: str, target: tuple[str, str, str],
           params: Sequence[str], responses: Schema, body: Schema | None = None) -> Schema:
        operation: Schema = {"description": description,
                             "operationId": f"{verb}{self.id_infix}{name}"}
        if params:
            operation["parameters"] = [query_param(p) for p in params]
        if body is not None:
            operation["requestBody"] = body
        operation["responses"] = responses
        operation["tags"] = list(self.tags)
        operation["x-kubernetes-action"] = action
        operation["x-kubernetes-group-version-kind"] = gvk(*target)
        return operation

    def list_op(self, name: str) -> Schema:
        """list (or watch), in a namespace or across all of them."""
        return self.op("list", name, "list", f"list or watch objects of kind {self.kind}",
                       self.target, LIST_PARAMS,
                       _responses(list_schema_name(self.spec), LISTING,
                                  RESPONSE_TYPES + WATCH_TYPES))


def _body(schema_name: str, required: bool = True) -> Schema:
    body: Schema = {"content": {"*/*": {"schema": ref(schema_name)}}}
    if required:
        body["required"] = True
    return body


PATCH_BODY: Schema = {"content": _content(meta.PATCH, PATCH_CONTENT_TYPES), "required": True}


def patch_body(spec: ResourceSpec) -> Schema:
    """The PATCH request body: every patch type, or the ones the resource takes (kubectl apply
    sends a strategic merge patch only when the kind's PATCH operation lists it)."""
    if spec.patch_types is None:
        return PATCH_BODY
    return {"content": _content(meta.PATCH, sorted(spec.patch_types)), "required": True}


LISTING = {"200": "OK"}
WRITTEN = {"200": "OK", "201": "Created"}


def _collection(ops: _Operations) -> Schema:
    """The operations on the collection URL: deletecollection, list, create."""
    kind, schema = ops.kind, ops.spec.schema_name
    coll: Schema = {}
    if "deletecollection" in ops.verbs:
        coll["delete"] = ops.op("delete", f"Collection{ops.scope}{kind}", "deletecollection",
                                f"delete collection of {kind}", ops.target,
                                DELETECOLLECTION_PARAMS, _responses(meta.STATUS, LISTING),
                                _body(meta.DELETE_OPTIONS, False))
    if "list" in ops.verbs:
        coll["get"] = ops.list_op(f"{ops.scope}{kind}")
    if "create" in ops.verbs:
        coll["post"] = ops.op("create", f"{ops.scope}{kind}", "post", f"create a {kind}",
                              ops.target, WRITE_PARAMS,
                              _responses(schema, {**WRITTEN, "202": "Accepted"}), _body(schema))
    return coll


def _item(ops: _Operations) -> Schema:
    """The operations on an object's URL: delete, read, patch, replace."""
    kind, schema, target = ops.kind, ops.spec.schema_name, ops.target
    name = f"{ops.scope}{kind}"
    one: Schema = {}
    if "delete" in ops.verbs:
        one["delete"] = ops.op("delete", name, "delete", f"delete a {kind}", target,
                               DELETE_PARAMS,
                               _responses(meta.STATUS, {"200": "OK", "202": "Accepted"}),
                               _body(meta.DELETE_OPTIONS, False))
    if "get" in ops.verbs:
        one["get"] = ops.op("read", name, "get", f"read the specified {kind}", target, (),
                            _responses(schema, LISTING))
    if "patch" in ops.verbs:
        one["patch"] = ops.op("patch", name, "patch", f"partially update the specified {kind}",
                              target, (*WRITE_PARAMS, "force"), _responses(schema, WRITTEN),
                              patch_body(ops.spec))
    if "update" in ops.verbs:
        one["put"] = ops.op("replace", name, "put", f"replace the specified {kind}", target,
                            WRITE_PARAMS, _responses(schema, WRITTEN), _body(schema))
    return one


def _subresource(ops: _Operations, sub: str, parameters: list[Schema]) -> Schema | None:
    """read/patch/replace of ``status`` or ``scale`` (``parameters`` besides the name); None for
    what has no object schema."""
    target, schema, kind = ops.target, ops.spec.schema_name, ops.kind
    if sub == "scale":
        if SCALE not in ops.spec.schemas:
            return None  # no schema to describe it with
        target, schema = ("autoscaling", "v1", "Scale"), SCALE
    elif sub != "status":
        return None  # connect-style subresources have no object schema
    name = f"{ops.scope}{kind}{sub.capitalize()}"
    return {
        "get": ops.op("read", name, "get", f"read {sub} of the specified {kind}", target, (),
                      _responses(schema, LISTING)),
        "parameters": [path_param("name", f"name of the {target[2]}"), *parameters],
        "patch": ops.op("patch", name, "patch", f"partially update {sub} of the specified {kind}",
                        target, (*WRITE_PARAMS, "force"), _responses(schema, WRITTEN),
                        patch_body(ops.spec)),
        "put": ops.op("replace", name, "put", f"replace {sub} of the specified {kind}", target,
                      WRITE_PARAMS, _responses(schema, WRITTEN), _body(schema)),
    }


def resource_paths(spec: ResourceSpec) -> dict[str, Schema]:
    """Every path of one resource with its operations, as kube's installer lays them out."""
    ops = _Operations(spec)
    root = f"/api/{spec.version}" if not spec.group else f"/apis/{spec.group}/{spec.version}"
    scope = "/namespaces/{namespace}" if spec.namespaced else ""
    collection, item = f"{root}{scope}/{spec.plural}", f"{root}{scope}/{spec.plural}/{{name}}"
    shared = [path_param("namespace", "object name and auth scope, such as for teams and "
                         "projects")] if spec.namespaced else []
    pretty = query_param("pretty")
    name_param = path_param("name", f"name of the {spec.kind}")
    paths: dict[str, Schema] = {}
    if coll := _collection(ops):
        paths[collection] = {**coll, "parameters": [*shared, pretty]}
    if one := _item(ops):
        paths[item] = {**one, "parameters": [name_param, *shared, pretty]}
    for sub in spec.subresources:
        if sub in spec.custom_subresources:
            paths[f"{item}/{sub}"] = custom_subresource_path(ops, spec, sub, [*shared, pretty])
        elif (operations := _subresource(ops, sub, [*shared, pretty])) is not None:
            paths[f"{item}/{sub}"] = operations
    if spec.namespaced and "list" in ops.verbs:
        paths[f"{root}/{spec.plural}"] = {"get": ops.list_op(f"{spec.kind}ForAllNamespaces"),
                                          "parameters": [pretty]}
    return paths


def custom_subresource_path(ops: _Operations, spec: ResourceSpec, sub: str,
                            shared: list[Schema]) -> Schema:
    """A POST-only subresource with its own kind (pods/binding): kube lists the write options
    with the path's parameters, and the request kind as body, response and target."""
    custom = spec.custom_subresources[sub]
    target = (custom.group, custom.version, custom.kind)
    operation = ops.op("create", f"{ops.scope}{spec.kind}{sub.capitalize()}", "post",
                       f"create {sub} of a {spec.kind}", target, (),
                       _responses(custom.schema_name, {"200": "OK", "201": "Created",
                                                       "202": "Accepted"}),
                       _body(custom.schema_name))
    parameters = [query_param(p) for p in WRITE_PARAMS]
    parameters.append(path_param("name", f"name of the {custom.kind}"))
    return {"parameters": [*parameters, *shared], "post": operation}


def list_schema_name(spec: ResourceSpec) -> str:
    return spec.schema_name + "List"


def _with_gvk(schema: Schema, entry: dict[str, str]) -> Schema:
    schema = copy.deepcopy(schema)
    listed = schema.setdefault("x-kubernetes-group-version-kind", [])
    if entry not in listed:
        listed.append(entry)
    return schema


def list_schema(spec: ResourceSpec) -> Schema:
    return {
        "description": f"{spec.list_kind} is a list of {spec.kind} objects.",
        "properties": {
            "apiVersion": {"description": meta.API_VERSION_DESCRIPTION, "type": "string"},
            "items": {"description": f"Items is the list of {spec.kind} objects.",
                      "items": ref(spec.schema_name, default={}), "type": "array"},
            "kind": {"description": meta.KIND_DESCRIPTION, "type": "string"},
            "metadata": ref(meta.LIST_META, default={},
                            description=meta.LIST_METADATA_DESCRIPTION),
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [gvk(spec.group, spec.version, spec.list_kind)],
    }


def iter_refs(node: Any) -> Iterator[str]:
    """Component names referred to anywhere under ``node``."""
    if isinstance(node, dict):
        target = node.get("$ref")
        if isinstance(target, str) and target.startswith(REF_PREFIX):
            yield target[len(REF_PREFIX):]
        for value in node.values():
            yield from iter_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_refs(value)


def referenced(roots: Any, available: dict[str, Schema]) -> tuple[dict[str, Schema], set[str]]:
    """The components reachable from ``roots`` (sorted by name), and the names that are missing."""
    found: dict[str, Schema] = {}
    missing: set[str] = set()
    pending = list(iter_refs(roots))
    while pending:
        name = pending.pop()
        if name in found or name in missing:
            continue
        if name not in available:
            missing.add(name)
            continue
        found[name] = available[name]
        pending.extend(iter_refs(found[name]))
    return dict(sorted(found.items())), missing


def _document(paths: dict[str, Schema], available: dict[str, Schema], version: str,
              label: str) -> Document:
    schemas, missing = referenced(paths, available)
    if missing:
        log.warning("OpenAPI %s: no schema for %s", label, ", ".join(sorted(missing)))
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": version},
            "paths": dict(sorted(paths.items())),
            "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
            "security": [{"BearerToken": []}]}


def _discovery_get(operation_id: str, schema_name: str, tags: list[str], description: str,
                   ) -> Schema:
    return {"get": {"description": description, "operationId": operation_id,
                    "responses": _responses(schema_name, {"200": "OK"}), "tags": tags}}


def group_version_document(group: APIGroup, base: dict[str, Schema],
                           version: str = "unversioned") -> Document:
    """The document of one group-version: its resources' paths and the schemas they use."""
    available = dict(base)
    paths: dict[str, Schema] = {}
    for spec in group.resources:
        available.update(spec.schemas)
        entry = gvk(spec.group, spec.version, spec.kind)
        if spec.schema_name in available:
            available[spec.schema_name] = _with_gvk(available[spec.schema_name], entry)
        list_name = list_schema_name(spec)
        available[list_name] = _with_gvk(available.get(list_name) or list_schema(spec),
                                         gvk(spec.group, spec.version, spec.list_kind))
        paths.update(resource_paths(spec))
    word = operation_id_part(_group_word(group.group), True) + \
        operation_id_part(group.version, True)
    paths[group.prefix + "/"] = _discovery_get(
        f"get{word}APIResources", meta.API_RESOURCE_LIST, [tag(group.group, group.version)],
        "get available resources")
    return _document(paths, available, version, group.group_version)


def build_documents(groups: Iterable[APIGroup], version: str = "unversioned",
                    keys: Iterable[str] | None = None) -> dict[str, Document]:
    """Every v3 document by its index key: ``api``, ``api/v1``, ``apis``, ``apis/<g>``,
    ``apis/<g>/<v>``; only those of ``keys`` when given (a document does not depend on which
    others are built with it)."""
    groups = list(groups)
    wanted = set(document_keys(groups) if keys is None else keys)
    base = meta.meta_schemas((g.group, g.version) for g in groups)
    docs: dict[str, Document] = {}
    if "api" in wanted:
        docs["api"] = _document({"/api/": _discovery_get("getCoreAPIVersions", meta.API_VERSIONS,
                                                         ["core"], "get available API versions")},
                                base, version, "api")
    if "apis" in wanted:
        docs["apis"] = _document({"/apis/": _discovery_get("getAPIVersions", meta.API_GROUP_LIST,
                                                           ["apis"], "get available API versions")},
                                 base, version, "apis")
    for name, versions in sort_groups(groups):
        if name and f"apis/{name}" in wanted:
            word = operation_id_part(_group_word(name), True)
            docs[f"apis/{name}"] = _document(
                {f"/apis/{name}/": _discovery_get(f"get{word}APIGroup", meta.API_GROUP,
                                                  [operation_id_part(_group_word(name), False)],
                                                  "get information of a group")},
                base, version, f"apis/{name}")
        for group in versions:
            key = group.prefix.lstrip("/")
            if group.resources and key in wanted:
                docs[key] = group_version_document(group, base, version)
    return docs
