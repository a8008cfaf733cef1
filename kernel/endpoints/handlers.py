"""Generic REST handlers: one API group's resources at kube's URL layout.

The request filters already resolved the request info (verb, namespace, resource, name,
subresource); this module decodes bodies, negotiates the response format, calls the resource's
:class:`~kernel.registry.store.Store` and encodes the result.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import trio

from kernel.admission import options_object
from kernel.audit import context as audit
from kernel.apimachinery import codecs, protobuf, status, validation
from kernel.apimachinery.patchtypes import APPLY_PATCH, PATCH_CONTENT_TYPES, STRATEGIC_MERGE_PATCH
from kernel.endpoints import table
from kernel.apimachinery import meta as objmeta
from kernel.endpoints.listoptions import (
    ListQuery, object_predicate, parse_list_query, parse_resource_version,
)
from kernel.registry.store import ListOptions, Store, check_object_name
from kernel.endpoints.requestoptions import DeleteOptions, WriteOptions, write_options
from kernel.registry.resource import Object, ResourceSpec, TableColumn, protobuf_kinds
from kernel.registry.subresources import SCALE_GVK, SCALE_SCHEMA_NAME, CustomSubresource
from kernel.endpoints.request import Request
from kernel.storage.interface import Preconditions

if TYPE_CHECKING:
    from kernel.endpoints.watch import Event

MAX_BODY = 3 * 1024 * 1024  # kube's MaxRequestBodyBytes
#: The PATCH types of built-in kinds, in the order kube's 415 lists them.
SERVED_PATCH_TYPES = (*PATCH_CONTENT_TYPES, APPLY_PATCH)
T = TypeVar("T")


class BodyKind(msgspec.Struct, frozen=True):
    """The kind a request body must be at one URL: the resource's, or its subresource's own."""

    group_version: str
    version: str
    kind: str
    schema_name: str
    schemas: Mapping[str, Any]
    unstructured: bool = False  # type mismatches are the strategy's to report (custom resources)

    @classmethod
    def of(cls, spec: ResourceSpec, subresource: str = "") -> BodyKind:
        custom = spec.custom_subresources.get(subresource)
        if custom is not None:
            return cls(custom.group_version, custom.version, custom.kind, custom.schema_name,
                       spec.schemas)
        if subresource == "scale" and spec.scale is not None:
            return cls("autoscaling/v1", SCALE_GVK.version, SCALE_GVK.kind, SCALE_SCHEMA_NAME,
                       spec.schemas)
        return cls(spec.group_version, spec.version, spec.kind, spec.schema_name, spec.schemas,
                   spec.unstructured)


class ResourceHandler:
    """Serves every resource of one API group-version."""

    def __init__(self, stores: Mapping[str, Store], stop_watches: Event,
                 lookup: Callable[[str, str], Store] | None = None) -> None:
        self.stores = dict(stores)
        self.stop_watches = stop_watches  # fired when the server stops accepting requests
        # Every registry of the server by (group, resource), for custom subresources' handlers.
        self.lookup = lookup or (lambda group, resource: self._own_store(group, resource))
        # Protobuf bodies are read only as kinds this group declares: no registry outside it.
        self.kinds = protobuf_kinds(store.spec for store in self.stores.values())

    def _own_store(self, group: str, resource: str) -> Store:
        store = self.stores.get(resource)
        if store is None or store.spec.group != group:
            raise KeyError(f"no registry for resource {resource!r} of group {group!r}")
        return store

    async def __call__(self, request: Request) -> None:
        try:
            await self._dispatch(request)
        except status.StatusError as error:
            if request.response_started:
                raise
            await _respond_error(request, error)

    async def _dispatch(self, request: Request) -> None:
        info = request.info
        assert info is not None
        store = self.stores.get(info.resource)
        if store is None:
            raise status.path_not_found()
        spec = store.spec
        namespace = info.namespace
        name = info.name
        if not spec.namespaced:
            # /namespaces/{name} carries the name as the namespace too; /namespaces/x/namespaces
            # (or any cluster-scoped resource under a namespace) is no route
            if namespace and (info.resource != "namespaces" or not name):
                raise status.path_not_found()
            namespace = ""
        elif not namespace and info.verb not in ("list", "watch"):
            raise status.path_not_found()
        if info.subresource and info.subresource not in spec.subresources:
            raise status.path_not_found()
        verb = info.verb
        if verb not in spec.verbs and not info.subresource:
            raise status.method_not_allowed()
        if verb in ("update", "patch") and not name:  # PUT or PATCH on a collection: no route
            raise status.method_not_allowed()
        custom = spec.custom_subresources.get(info.subresource)
        if custom is not None:
            if verb not in custom.verbs:
                raise status.method_not_allowed()
            await self._create_subresource(request, store, namespace, name, info.subresource, custom)
            return
        if info.subresource and verb not in ("get", "update", "patch"):
            raise status.method_not_allowed()
        if verb == "watch" and request.method not in ("GET", "HEAD"):
            # /watch/... only has GET routes in kube: DELETE (or POST...) there is a 405
            raise status.method_not_allowed()
        media = codecs.negotiate(request.headers.get("accept"), conversions=codecs.TABLE_CONVERSIONS,
                                 stream=verb == "watch")
        if verb == "get" and info.subresource == "scale" and spec.scale is not None:
            await self._respond(request, spec, media, await store.get_scale(namespace, name), columns=table.SCALE_COLUMNS)
        elif verb == "get":
            rv = request.query_value("resourceVersion")
            revision = parse_resource_version(rv) if rv else None
            await self._respond(request, spec, media, await store.get(namespace, name, revision))
        elif verb in ("list", "watch"):
            query = parse_list_query(request, spec, watch=verb == "watch")
            if verb == "watch":
                from kernel.endpoints.watch import serve_watch  # imported by the first watch
                await serve_watch(request, store, namespace, query, media, self.stop_watches)
            else:
                await self._list(request, store, namespace, query, media)
        elif verb == "create":
            if name:  # POST to an item: kube has no such route
                raise status.method_not_allowed()
            await self._create(request, store, namespace, media)
        elif verb == "update":
            await self._update(request, store, namespace, name, info.subresource, media)
        elif verb == "patch":
            await self._patch(request, store, namespace, name, info.subresource, media)
        elif verb == "delete":
            await self._delete(request, store, namespace, name, media)
        elif verb == "deletecollection":
            await self._delete_collection(request, store, namespace, media)
        else:
            raise status.method_not_allowed()

    # -- responses ----------------------------------------------------------------------------

    async def _respond(self, request: Request, spec: ResourceSpec, media: codecs.MediaType,
                       obj: Object, code: int = 200, warnings: list[str] | None = None,
                       columns: Sequence[TableColumn] | None = None) -> None:
        """``columns``: a Table's (the resource's unless given; () for the default ones)."""
        if media.is_table:
            columns = spec.table_columns if columns is None else columns
            body = table.build_table(columns, [obj], include_object=_include_object(request),
                                     no_headers=False, list_meta={"resourceVersion": objmeta.resource_version(obj)})
        elif media.is_partial_metadata:
            body = table.partial_object_metadata(obj)
        else:
            body = obj
        request.warnings.extend(warnings or ())
        data = codecs.encode(body, media)
        audit.log_response_object(request, body, data if media.type == codecs.JSON else None)
        await request.respond(code, data, media.content_type.encode())

    async def _list(self, request: Request, store: Store, namespace: str, query: ListQuery,
                    media: codecs.MediaType) -> None:
        spec = store.spec
        result = await store.list(namespace, ListOptions(
            predicate=object_predicate(spec, query), limit=query.limit,
            continue_from=query.continue_token or None, revision=query.revision(),
            min_revision=query.min_revision(), encoded=media.type == codecs.JSON and not media.kind))
        list_meta: dict[str, Any] = {"resourceVersion": str(result.revision)}
        if result.continue_from:
            list_meta["continue"] = result.continue_from
            if result.remaining is not None:
                list_meta["remainingItemCount"] = result.remaining
        if media.is_table:
            body: Any = table.build_table(spec.table_columns, result.items,
                                          include_object=_include_object(request), no_headers=False,
                                          list_meta=list_meta)
        elif media.is_partial_metadata:
            body = table.partial_object_metadata_list(result.items, list_meta)
        else:
            body = {"kind": spec.list_kind, "apiVersion": spec.group_version, "metadata": list_meta,
                    "items": result.items}
        data = codecs.encode(body, media)
        audit.log_response_object(request, body, data if media.type == codecs.JSON else None)
        # Free the decoded items before sending: alive across the send's awaits, every in-flight
        # list's objects pile up in the young GC generation and make each collection costly.
        del result, body
        await request.respond(200, data, media.content_type.encode())

    # -- writes -------------------------------------------------------------------------------

    async def _decode(self, request: Request, spec: ResourceSpec | BodyKind) -> tuple[Object, bytes]:
        body = await request.body(MAX_BODY)
        obj = await _decode_body(request.headers.get("content-type"), body,
                                 (spec.group_version, spec.kind), self.kinds)
        if not isinstance(obj, dict):
            raise status.bad_request("the body of the request must be a JSON object")
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != spec.kind:
            raise status.bad_request(f"the kind of the provided object ({kind}) does not match the "
                                     f"kind served at this URL ({spec.kind})")
        if api_version and api_version != spec.group_version:
            raise status.bad_request(f"the API version in the data ({api_version}) does not match the "
                                     f"expected API version ({spec.group_version})")
        return obj, body

    def _field_check(self, request: Request, spec: ResourceSpec | BodyKind, obj: Object,
                     body: bytes, mode: str) -> list[str]:
        """Apply fieldValidation to a body: type errors are always 400; unknown/duplicate fields
        per mode (400 under Strict, warnings under Warn)."""
        from kernel.apimachinery import fieldvalidation  # imported by the first write

        report = fieldvalidation.check(obj, spec.schema_name, spec.schemas)
        if report.type_errors and not spec.unstructured:  # kube reports the first one
            raise status.bad_request(fieldvalidation.decode_error_message(
                spec.kind, spec.version, report.type_errors[0]))
        report.drop_unknown()
        if mode == "Ignore":
            return []
        problems = codecs.unknown_field_errors(report.unknown)
        text_media = _body_media_type(request)
        if text_media:
            problems += codecs.duplicate_field_errors(body, text_media)
        if problems and mode == "Strict":
            raise codecs.strict_decoding_error(problems, spec.group_version, spec.kind)
        return problems

    async def _create(self, request: Request, store: Store, namespace: str, media: codecs.MediaType) -> None:
        options = write_options(request, "CreateOptions")
        kind = BodyKind.of(store.spec)
        obj, body = await self._decode(request, kind)
        audit.log_request_object(request, obj)
        warnings = await _off_loop_if(
            codecs.decode_is_costly(request.headers.get("content-type"), body),
            self._field_check, request, kind, obj, body, options.field_validation)
        created = await store.create(namespace, obj, request.user, dry_run=options.dry_run,
                                     options=_options_object(request, "CreateOptions", options.dry_run),
                                     **_tracked(store, request, options))
        await self._respond(request, store.spec, media, created, 201, warnings)

    async def _update(self, request: Request, store: Store, namespace: str, name: str,
                      subresource: str, media: codecs.MediaType) -> None:
        options = write_options(request, "UpdateOptions")
        kind = BodyKind.of(store.spec, subresource)
        obj, body = await self._decode(request, kind)
        audit.log_request_object(request, obj)
        warnings = await _off_loop_if(
            codecs.decode_is_costly(request.headers.get("content-type"), body),
            self._field_check, request, kind, obj, body, options.field_validation)
        check_object_name(obj, name, namespace)  # before storage, as kube's update handler does
        uid = objmeta.metadata(obj).get("uid")  # a uid in the body is a precondition on the stored one
        preconditions = Preconditions(uid=uid) if uid else None
        admitted = _options_object(request, "UpdateOptions", options.dry_run)
        if subresource == "scale" and store.spec.scale is not None:
            scale = await store.update_scale(namespace, name, lambda old: obj, request.user,
                                             dry_run=options.dry_run, options=admitted,
                                             preconditions=preconditions,
                                             manager=_manager(request, options))
            await self._respond(request, store.spec, media, scale, 200, warnings, columns=table.SCALE_COLUMNS)
            return
        result, created = await store.update(namespace, name, lambda current: obj, request.user,
                                             dry_run=options.dry_run, subresource=subresource,
                                             preconditions=preconditions, options=admitted,
                                             manager=_manager(request, options))
        await self._respond(request, store.spec, media, result, 201 if created else 200, warnings)

    async def _patch(self, request: Request, store: Store, namespace: str, name: str,
                     subresource: str, media: codecs.MediaType) -> None:
        spec = store.spec
        content_type = request.headers.get("content-type") or ""
        media_type = content_type.partition(";")[0].strip().lower()
        served = SERVED_PATCH_TYPES if spec.patch_types is None else spec.patch_types
        if media_type not in served:
            # kube refuses an unknown patch type before it reads the object
            from kernel.apimachinery.patch import unsupported_media_type
            raise unsupported_media_type(list(served)).status_error()
        options = write_options(request, "PatchOptions", apply=media_type == APPLY_PATCH)
        body = await request.body(MAX_BODY)
        audit.log_request_patch(request, body)
        kind = BodyKind.of(spec, subresource)  # a Scale is patched as a Scale
        warnings: list[str] = []
        if media_type == APPLY_PATCH:
            change = self._applier(store, subresource, kind, body, options, warnings, name, namespace)
        else:
            change = _patcher(kind, content_type, body, options, warnings)
        admitted = _options_object(request, "UpdateOptions", options.dry_run)  # kube admits a
        manager = None if media_type == APPLY_PATCH else _manager(request, options)
        if subresource == "scale" and spec.scale is not None:                  # patch as an update
            scale = await store.update_scale(namespace, name, change, request.user,
                                             dry_run=options.dry_run, options=admitted,
                                             manager=_manager(request, options))
            await self._respond(request, spec, media, scale, 200, warnings, columns=table.SCALE_COLUMNS)
            return
        result, created = await store.update(namespace, name, change, request.user,
                                             dry_run=options.dry_run, subresource=subresource,
                                             options=admitted, manager=manager,
                                             force_allow_create=media_type == APPLY_PATCH)
        await self._respond(request, spec, media, result, 201 if created else 200, warnings)

    def _applier(self, store: Store, subresource: str, kind: BodyKind, body: bytes,
                 options: WriteOptions, warnings: list[str], name: str,
                 namespace: str) -> Callable[[Object], Object]:
        """A server-side apply of ``body`` (YAML or JSON) as ``mutate(current) -> new``."""
        try:
            config = codecs.decode_body(codecs.YAML, body)
        except status.StatusError as error:
            raise status.bad_request(f"error decoding YAML: {error.message}") from None
        if not isinstance(config, dict):
            raise status.bad_request("error decoding YAML: the apply configuration must be an object")
        check_object_name(config, name, namespace)
        if options.field_validation != "Ignore":  # duplicate keys: yaml.UnmarshalStrict's errors
            problems = codecs.duplicate_field_errors(body, codecs.YAML)
            if problems and options.field_validation == "Strict":
                raise status.bad_request("error strict decoding YAML: " + "; ".join(problems))
            warnings.extend(problems)
        if subresource == "scale" and store.spec.scale is not None:
            from kernel.apimachinery import managedfields

            fields = managedfields.FieldManager(
                managedfields.TypeConverter(kind.schemas).named(kind.schema_name), kind.group_version, kind.kind)
        else:
            fields = store.field_manager(subresource)
        manager = options.field_manager

        def apply(current: Object) -> Object:
            applied = fields.apply(current or None, config, manager, options.force)
            warnings.extend(_patched_field_check(kind, applied, body, APPLY_PATCH, options.field_validation))
            return applied

        return apply

    async def _create_subresource(self, request: Request, store: Store, namespace: str, name: str,
                                  subresource: str, custom: CustomSubresource) -> None:
        """POST to a custom subresource: the body is decoded and checked as the subresource's
        kind; the handler's answer is sent as 201 Created (a Status keeps its own code)."""
        media = codecs.negotiate(request.headers.get("accept"), conversions=())
        options = write_options(request, "CreateOptions")
        kind = BodyKind.of(store.spec, subresource)
        obj, body = await self._decode(request, kind)
        audit.log_request_object(request, obj)
        warnings = await _off_loop_if(
            codecs.decode_is_costly(request.headers.get("content-type"), body),
            self._field_check, request, kind, obj, body, options.field_validation)
        result = await store.create_subresource(
            namespace, name, subresource, obj, request.user, stores=self.lookup,
            dry_run=options.dry_run, options=_options_object(request, "CreateOptions", options.dry_run))
        code = 201
        if result.get("kind") == "Status":
            code = result.setdefault("code", 201)
        request.warnings.extend(warnings)
        data = codecs.encode(result, media)
        audit.log_response_object(request, result, data if media.type == codecs.JSON else None)
        await request.respond(code, data, media.content_type.encode())

    async def _delete(self, request: Request, store: Store, namespace: str, name: str,
                      media: codecs.MediaType) -> None:
        options = await self._delete_options(request)
        obj, deleted = await store.delete(namespace, name, request.user,
                                          preconditions=options.preconditions,
                                          dry_run=options.dry_run, options=options.as_object())
        if not deleted:
            await self._respond(request, store.spec, media, obj, 200)
            return
        spec = store.spec
        details: dict[str, Any] = {"name": name, "kind": spec.plural}
        if spec.group:
            details["group"] = spec.group
        details["uid"] = objmeta.metadata(obj).get("uid", "")
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": details}
        data = msgspec.json.encode(body)
        audit.log_status(request, {**body, "code": 200})
        audit.log_response_object(request, body, data)
        await request.respond(200, data)

    async def _delete_collection(self, request: Request, store: Store, namespace: str,
                                 media: codecs.MediaType) -> None:
        query = parse_list_query(request, store.spec, watch=False)
        options = await self._delete_options(request)
        result = await store.list(namespace, ListOptions(predicate=object_predicate(store.spec, query)))
        deleted = []
        for obj in result.items:
            meta = objmeta.metadata(obj)
            try:
                item, _ = await store.delete(meta.get("namespace", ""), meta["name"], request.user,
                                             dry_run=options.dry_run, options=options.as_object())
            except status.StatusError as error:
                if error.code == 404:  # someone else deleted it meanwhile
                    continue
                raise
            deleted.append(item)
        spec = store.spec
        body = {"kind": spec.list_kind, "apiVersion": spec.group_version,
                "metadata": {"resourceVersion": str(result.revision)}, "items": deleted}
        data = codecs.encode(body, media)
        audit.log_response_object(request, body, data if media.type == codecs.JSON else None)
        await request.respond(200, data, media.content_type.encode())

    async def _delete_options(self, request: Request) -> DeleteOptions:
        body = await request.body(MAX_BODY)
        raw: dict[str, Any] = {}
        if body.strip():
            raw = await _decode_body(request.headers.get("content-type"), body)
            if not isinstance(raw, dict):
                raise status.bad_request("DeleteOptions must be a JSON object")
            audit.log_request_object(request, raw)
        return DeleteOptions.parse(raw, request)


async def _decode_body(content_type: str | None, body: bytes, gvk: tuple[str, str] | None = None,
                       kinds: protobuf.Kinds | None = None) -> Any:
    return await _off_loop_if(codecs.decode_is_costly(content_type, body), codecs.decode_body,
                              content_type, body, gvk, kinds)


async def _off_loop_if(costly: bool, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, in a worker thread when ``costly`` (a large body, or YAML: see
    codecs.decode_is_costly), so decoding never stalls the event loop: a thread holding the GIL
    still lets the loop run between its switch intervals. Small bodies stay on the loop, where
    the ~50 us thread hand-off would cost more than the decode."""
    if costly:
        return await trio.to_thread.run_sync(functools.partial(fn, *args))
    return fn(*args)


async def _respond_error(request: Request, error: status.StatusError) -> None:
    """responsewriters.ErrorNegotiated: the Status in a format the client accepts (YAML if it
    prefers it), JSON when none fits; conversions (Table...) never apply to a Status."""
    try:
        media = codecs.negotiate(request.headers.get("accept"), conversions=())
    except status.StatusError:
        media = codecs.MediaType()
    if media.type == codecs.JSON:
        await request.respond_error(error)
    else:
        audit.log_status(request, error.status())
        await request.respond(error.code, codecs.encode(error.status(), media),
                              media.content_type.encode(), error.headers)


def _patched_field_check(spec: ResourceSpec | BodyKind, patched: Object, body: bytes, content_type: str,
                         mode: str) -> list[str]:
    """fieldValidation of a patched object (handlers/patch.go): a field of the wrong type, or an
    unknown one under Strict, is a 422 on the field "patch" (not the 400 of a request body)."""
    from kernel.apimachinery import fieldvalidation

    report = fieldvalidation.check(patched, spec.schema_name, spec.schemas)
    if isinstance(spec, BodyKind) and spec.unstructured:
        report.type_errors.clear()
    problems = [] if mode == "Ignore" else codecs.unknown_field_errors(report.unknown)
    if report.type_errors or (problems and mode == "Strict"):
        detail = report.type_errors[0] if report.type_errors else "strict decoding error: " + ", ".join(problems)
        if content_type.partition(";")[0].strip().lower() == STRATEGIC_MERGE_PATCH:
            from kernel.apimachinery import patch
            shown = patch.go_repr(patch.decode_json(body))  # kube shows the patch map, %+v
        else:
            shown = msgspec.json.encode(patched).decode()  # ... or the patched object's JSON
        raise validation.invalid("", "", [validation.FieldError.invalid("patch", shown, detail)])
    report.drop_unknown()
    return problems


def _patcher(kind: BodyKind, content_type: str, body: bytes, options: WriteOptions,
             warnings: list[str]) -> Callable[[Object], Object]:
    """A JSON, merge or strategic-merge PATCH as ``mutate(current) -> new``."""
    from kernel.apimachinery import fieldvalidation, patch  # only PATCH requests need the patch machinery
    patch_meta = fieldvalidation.patch_meta(kind.schema_name, kind.schemas)

    def apply(current: Object) -> Object:
        try:
            patched = patch.apply_patch(content_type, current, body, patch_meta)
        except patch.PatchError as error:
            raise error.status_error() from None
        if not isinstance(patched, dict):
            raise status.bad_request("the patched object must be a JSON object")
        warnings[:] = _patched_field_check(kind, patched, body, content_type, options.field_validation)
        return patched

    return apply


def _tracked(store: Store, request: Request, options: WriteOptions) -> dict[str, str]:
    """The manager keyword for a generic registry; a plugin's own create-only REST object (a
    review that stores nothing) keeps its plain signature."""
    return {"manager": _manager(request, options)} if isinstance(store, Store) else {}


def _manager(request: Request, options: WriteOptions) -> str:
    """The manager an Update is recorded under: fieldManager, else the User-Agent's product."""
    from kernel.apimachinery import managedfields

    return managedfields.manager_or_user_agent(options.field_manager, request.headers.get("user-agent"))


def _include_object(request: Request) -> str:
    value = request.query_value("includeObject", "Metadata")
    table.validate_include_object(value)  # 400 "Unable to convert to Table as requested: ..."
    return value or "Metadata"


def _options_object(request: Request, kind: str, dry_run: bool) -> dict[str, Any]:
    """The write's metav1 options object as admission sees it: only the fields the query set."""
    return options_object(kind, dry_run, fieldManager=request.query_value("fieldManager"),
                          fieldValidation=request.query_value("fieldValidation"))


def _body_media_type(request: Request) -> str:
    """Duplicate keys can only be found in text bodies; protobuf cannot repeat a field name."""
    content_type = (request.headers.get("content-type") or codecs.JSON).split(";")[0].strip().lower()
    return content_type if content_type in (codecs.JSON, codecs.YAML) else ""
