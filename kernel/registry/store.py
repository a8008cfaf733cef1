"""The generic registry (genericregistry.Store): one resource's verbs on top of Storage.

Handles what every resource shares — namespaces in keys, generateName, uid and timestamps,
strategy hooks, validation, admission, dry-run, optimistic concurrency, preconditions,
finalizers and deletionTimestamp — and turns storage errors into kube's Status errors.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import msgspec

from kernel.admission import Admission, Attributes, GroupVersionKind, GroupVersionResource, Operation
from kernel.admission import options_object
from kernel.apimachinery import meta as objmeta
from kernel.apimachinery import status, validation
from kernel.registry.resource import Finish, Object, ResourceSpec
from kernel.registry.subresources import SCALE_GVK, SubresourceCall, validate_scale
from kernel.authentication.user import UserInfo
from kernel.storage import errors as storage_errors
from kernel.storage import keys
from kernel.storage.cacher import Cacher
from kernel.storage.interface import ListResult, Preconditions, Storage, WatchEvent

if TYPE_CHECKING:
    from kernel.apimachinery import managedfields

Predicate = Callable[[Object], bool]
_OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions",
                 "CONNECT": "ConnectOptions"}
# registry.Store's maxNameGenerationCreateAttempts.
GENERATE_NAME_ATTEMPTS = 8


def too_large_resource_version(revision: int, current: int) -> status.StatusError:
    """storage.NewTooLargeResourceVersionError: a 504 Timeout clients retry after a second."""
    return status.StatusError(504, "Timeout", f"Timeout: Too large resource version: {revision}, current: {current}",
                              {"causes": [{"reason": "ResourceVersionTooLarge",
                                           "message": "Too large resource version"}],
                               "retryAfterSeconds": 1}, headers=[(b"retry-after", b"1")])


def check_object_name(obj: Object, name: str, namespace: str) -> None:
    """kube's checkName (endpoints/handlers/rest.go): an updated object must carry the URL's name,
    and no other namespace than the URL's."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    given = meta.get("name") or ""
    if not given:
        raise status.bad_request(f"the name of the object ({name} based on URL) was undeterminable: "
                                 "name must be provided")
    if given != name:
        raise status.bad_request(f"the name of the object ({given}) does not match the name on the "
                                 f"URL ({name})")
    given_namespace = meta.get("namespace") or ""
    if namespace and given_namespace and given_namespace != namespace:
        raise status.bad_request(f"the namespace of the object ({given_namespace}) does not match the "
                                 f"namespace on the request ({namespace})")


class ListOptions(msgspec.Struct):
    predicate: Predicate | None = None
    limit: int = 0
    continue_from: str | None = None
    revision: int | None = None  # None: the current state (a consistent read)
    min_revision: int = 0  # NotOlderThan: a list older than this is a 504 "Too large resource version"
    #: The caller only encodes the items to JSON: the watch cache may hand them over still
    #: encoded (``msgspec.Raw``), skipping a decode and re-encode per object.
    encoded: bool = False


class Store:
    def __init__(self, spec: ResourceSpec, storage: Storage, admission: Admission | None = None) -> None:
        self.spec = spec
        self.storage = storage
        self.admission = admission if admission is not None else Admission()
        self._kind = GroupVersionKind(spec.group, spec.version, spec.kind)
        self._resource = GroupVersionResource(spec.group, spec.version, spec.plural)
        self._field_managers: dict[str, managedfields.FieldManager] = {}
        self._type_converter: managedfields.TypeConverter | None = None

    def field_manager(self, subresource: str = "") -> managedfields.FieldManager:
        """The managedFields bookkeeping of this resource (or one of its subresources)."""
        manager = self._field_managers.get(subresource)
        if manager is None:
            from kernel.apimachinery import managedfields  # imported by the first write

            if self._type_converter is None:
                self._type_converter = managedfields.TypeConverter(self.spec.schemas)
            manager = self._field_managers[subresource] = _field_manager(
                self.spec, self._type_converter, subresource)
        return manager

    # -- keys and errors ------------------------------------------------------------------------

    def key(self, namespace: str, name: str) -> str:
        try:
            return keys.object_key(self.spec.storage_prefix, name,
                                   namespace if self.spec.namespaced else None)
        except ValueError as error:
            raise status.bad_request(str(error)) from None

    def prefix(self, namespace: str) -> str:
        return keys.list_prefix(self.spec.storage_prefix, namespace if self.spec.namespaced else None)

    def not_found(self, name: str) -> status.StatusError:
        return status.not_found(self.spec.group, self.spec.plural, name)

    def _invalid(self, name: str, errors: list) -> status.StatusError:
        return validation.invalid(self.spec.kind, name, errors, self.spec.group)

    def _conflict(self, name: str, why: str = status.OPTIMISTIC_LOCK) -> status.StatusError:
        return status.conflict(self.spec.group, self.spec.plural, name, why)

    @asynccontextmanager
    async def _translate(self, name: str) -> AsyncIterator[None]:
        """Storage errors → kube's Status errors for this resource."""
        try:
            yield
        except storage_errors.KeyNotFoundError:
            raise self.not_found(name) from None
        except storage_errors.KeyExistsError:
            raise status.already_exists(self.spec.group, self.spec.plural, name) from None
        except storage_errors.ConflictError as error:
            raise self._conflict(name, str(error)) from None
        except storage_errors.ResourceExpiredError as error:
            gone = status.gone(error.message)
            if getattr(error, "continue_token", None):
                gone.list_continue = error.continue_token
            raise gone from None
        except storage_errors.TooLargeResourceVersionError as error:
            raise too_large_resource_version(error.revision, error.current) from None
        except storage_errors.InvalidContinueError as error:
            raise status.bad_request(error.message) from None
        except storage_errors.StorageTimeoutError as error:
            raise status.timeout(f"storage did not answer in time: {error.message}") from None
        except storage_errors.StorageUnavailableError as error:
            raise status.service_unavailable(f"storage is unavailable: {error.message}") from None

    # -- admission ----------------------------------------------------------------------------

    async def _admit(self, operation: Operation, obj: Object | None, old: Object | None, user: UserInfo,
                     dry_run: bool, namespace: str, name: str, options: Mapping[str, Any] | None,
                     subresource: str = "", kind: GroupVersionKind | None = None) -> None:
        if options is None:  # an in-process caller: the options object kube would default
            options = options_object(_OPTIONS_KIND[operation], dry_run)
        await self.admission(Attributes(user, operation, obj, old, options, dry_run,
                                        kind or self._kind, self._resource, subresource,
                                        namespace, name))

    # -- reads --------------------------------------------------------------------------------

    async def get(self, namespace: str, name: str, revision: int | None = None) -> Object:
        """The object; ``revision`` (a GET's resourceVersion) lets the watch cache answer."""
        async with self._translate(name):
            if revision is not None and isinstance(self.storage, Cacher):
                return await self.storage.get(self.key(namespace, name), revision=revision)
            return await self.storage.get(self.key(namespace, name))

    async def list(self, namespace: str, options: ListOptions) -> ListResult:
        async with self._translate(""):
            extra = {"encoded": True} if options.encoded and isinstance(self.storage, Cacher) else {}
            result = await self.storage.get_list(
                self.prefix(namespace), revision=options.revision, limit=options.limit,
                continue_from=options.continue_from, predicate=options.predicate, **extra)
        if result.revision < options.min_revision:
            # A consistent read is as fresh as the store gets: the revision asked for is in the future.
            raise too_large_resource_version(options.min_revision, result.revision)
        return result

    @asynccontextmanager
    async def watch(self, namespace: str, revision: int, predicate: Predicate | None,
                    bookmarks: bool = False,
                    deadline: float | None = None) -> AsyncIterator[AsyncIterator[WatchEvent]]:
        async with self._translate(""):
            async with self.storage.watch(self.prefix(namespace), revision=revision,
                                          predicate=predicate, bookmarks=bookmarks,
                                          deadline=deadline) as events:
                yield events

    # -- writes -------------------------------------------------------------------------------

    def _check_namespace(self, obj: Object, namespace: str) -> None:
        meta = objmeta.metadata(obj)
        if self.spec.namespaced:
            given = meta.get("namespace") or ""
            if given and given != namespace:
                raise status.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def _validate(self, obj: Object, old: Object | None, subresource: str = "") -> None:
        meta = objmeta.metadata(obj)
        strategy = self.spec.strategy_for(subresource)
        errors = validation.validate_object_meta(
            meta, namespaced=self.spec.namespaced,
            name_validator=self.spec.name_validator or validation.name_is_dns_subdomain,
            is_create=old is None)
        if old is None:
            errors += strategy.validate(obj)
        else:
            errors += validation.validate_object_meta_update(meta, objmeta.metadata(old))
            errors += strategy.validate_update(obj, old)
        if errors:
            raise self._invalid(meta.get("name") or meta.get("generateName") or "", errors)

    async def create(self, namespace: str, obj: Object, user: UserInfo, *, dry_run: bool = False,
                     options: Mapping[str, Any] | None = None, manager: str | None = None) -> Object:
        """Create ``obj``. A name made from generateName that is already taken is generated
        again, up to 8 attempts in all (kube's RetryGenerateName, on by default since 1.31)."""
        meta = objmeta.metadata(obj)
        if meta.get("name") or not meta.get("generateName"):
            return await self._create(namespace, obj, user, dry_run, options, manager)
        for attempt in range(GENERATE_NAME_ATTEMPTS):
            try:  # each attempt on a fresh copy: admission may have changed the last one
                return await self._create(namespace, copy.deepcopy(obj), user, dry_run, options, manager)
            except status.StatusError as error:
                if error.reason != "AlreadyExists" or attempt == GENERATE_NAME_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _create(self, namespace: str, obj: Object, user: UserInfo, dry_run: bool,
                      options: Mapping[str, Any] | None, manager: str | None = None) -> Object:
        """``manager``: the Update to record in managedFields (None: keep the object's own)."""
        spec = self.spec
        obj["apiVersion"], obj["kind"] = spec.group_version, spec.kind
        spec.strategy.default(obj)
        self._check_namespace(obj, namespace)
        objmeta.drop_empty_meta(obj)
        meta = objmeta.metadata(obj)
        given_rv = meta.get("resourceVersion")
        if not dry_run and isinstance(given_rv, str) and given_rv.isdigit() and int(given_rv):
            # the etcd3 store's check, a plain error kube answers as a 500 without a reason
            raise status.StatusError(500, "", "resourceVersion should not be set on objects to be created")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = objmeta.generate_name(meta["generateName"])
        objmeta.prepare_create_meta(obj, track_generation=spec.strategy.track_generation)
        spec.strategy.prepare_for_create(obj)
        spec.strategy.canonicalize(obj)
        if manager is not None:  # before admission, as kube's create handler records it
            self.field_manager().update(None, obj, manager)
        self._validate(obj, None)
        name = meta["name"]
        # Validated again only if a mutating plugin changed it (compared as JSON: far cheaper
        # than a second validation).
        before = msgspec.json.encode(obj) if self.admission.may_mutate("CREATE") else None
        await self._admit("CREATE", obj, None, user, dry_run, namespace, name, options)
        if before is not None and msgspec.json.encode(obj) != before:
            self._validate(obj, None)
        finish = await spec.strategy.begin_create(obj, dry_run=dry_run)
        stored = False
        try:
            if dry_run:
                if await self._exists(namespace, name):
                    raise status.already_exists(spec.group, spec.plural, name)
                return obj
            async with self._translate(name):
                created = await self.storage.create(self.key(namespace, name), obj)
            stored = True
            return created
        finally:
            if finish is not None:
                finish(stored)

    async def _exists(self, namespace: str, name: str) -> bool:
        try:
            await self.storage.get(self.key(namespace, name))
        except storage_errors.KeyNotFoundError:
            return False
        return True

    async def update(self, namespace: str, name: str, mutate: Callable[[Object], Object | Awaitable[Object]],
                     user: UserInfo, *, dry_run: bool = False, subresource: str = "",
                     options: Mapping[str, Any] | None = None,
                     check_name: bool = True,
                     preconditions: Preconditions | None = None,
                     admit: bool = True, manager: str | None = None,
                     force_allow_create: bool = False) -> tuple[Object, bool]:
        """Read-modify-write with ``mutate(current) -> new``; returns (object, created).

        ``mutate`` is re-run on a fresh copy when another writer got in first. A resourceVersion
        in the new object that differs from the stored one is a 409 Conflict, and so is a stored
        object that fails ``preconditions`` (a PUT's uid: kube's defaultUpdatedObjectInfo).
        ``admit=False``: ``mutate`` admitted the change itself (as another kind: a Scale).
        ``manager``: the Update to record in managedFields (None: ``mutate`` kept them, as an
        apply does). ``force_allow_create``: a missing object is created from ``mutate({})``
        (an apply), whatever the strategy allows.
        """
        spec = self.spec
        created = False

        finishes: list[Finish] = []  # the begin_update reservation of the attempt under way

        def finish(stored: bool) -> None:
            while finishes:
                finishes.pop()(stored)

        async def try_update(current: Object) -> Object:
            finish(False)  # a conflict retry: the last attempt's reservation is not used
            new = mutate(copy.deepcopy(current))
            if isinstance(new, Awaitable):
                new = await new
            new = await self._prepare_update(namespace, name, new, current, user, dry_run,
                                             subresource, check_name, options, admit, manager)
            done = await spec.strategy_for(subresource).begin_update(new, current, dry_run=dry_run)
            if done is not None:
                finishes.append(done)
            return new

        create_missing = (spec.strategy.allow_create_on_update or force_allow_create) and not subresource
        if dry_run:
            try:
                current = await self.get(namespace, name)
            except status.StatusError as error:
                if error.code != 404 or not create_missing:
                    raise
                return await self._create_missing(namespace, mutate, user, True, manager), True
            if preconditions is not None:
                async with self._translate(name):
                    preconditions.check(self.key(namespace, name), current)
            try:
                return await try_update(current), False
            finally:
                finish(False)
        stored = False
        try:
            async with self._translate(name):
                result = await self.storage.guaranteed_update(self.key(namespace, name), try_update,
                                                              preconditions=preconditions)
            stored = True
        except status.StatusError as error:
            if error.code != 404 or not create_missing:
                raise
            return await self._create_missing(namespace, mutate, user, False, manager), True
        finally:
            finish(stored)
        if self._finished_deleting(result):
            await self._delete_now(namespace, name, result)
        return result, created

    async def _create_missing(self, namespace: str, mutate: Callable[[Object], Object | Awaitable[Object]],
                              user: UserInfo, dry_run: bool, manager: str | None) -> Object:
        """An update of a missing object that may create it: ``mutate({})`` is created."""
        new = mutate({})
        if isinstance(new, Awaitable):
            new = await new
        return await self.create(namespace, new, user, dry_run=dry_run, manager=manager)

    async def _prepare_update(self, namespace: str, name: str, new: Object, current: Object,
                              user: UserInfo, dry_run: bool, subresource: str, check_name: bool,
                              options: Mapping[str, Any] | None, admit: bool = True,
                              manager: str | None = None) -> Object:
        spec = self.spec
        if not isinstance(new, dict):
            raise status.bad_request("the object must be a JSON object")
        new["apiVersion"], new["kind"] = spec.group_version, spec.kind
        spec.strategy.default(new)  # the whole body is decoded with defaults, subresource or not
        meta = objmeta.metadata(new)
        if check_name:
            check_object_name(new, name, namespace)
        self._check_namespace(new, namespace)
        sent = meta.get("managedFields")
        given_rv = meta.get("resourceVersion") or ""
        if given_rv and given_rv != objmeta.resource_version(current):
            raise self._conflict(name)
        if not given_rv and not spec.strategy.allow_unconditional_update:
            raise self._invalid(name, [validation.FieldError.invalid(
                "metadata.resourceVersion", "", "must be specified for an update")])
        objmeta.drop_empty_meta(new)
        objmeta.prepare_update_meta(new, current, track_generation=spec.strategy.track_generation)
        meta["resourceVersion"] = objmeta.resource_version(current)
        strategy = spec.strategy_for(subresource)
        strategy.prepare_for_update(new, copy.deepcopy(current))
        strategy.canonicalize(new)
        self._managed_fields(new, current, subresource, manager, sent)
        self._validate(new, current, subresource)
        if admit:
            await self._admit("UPDATE", new, current, user, dry_run, namespace, name, options,
                              subresource)
            self._validate(new, current, subresource)
        return new

    def _managed_fields(self, new: Object, current: Object, subresource: str,
                        manager: str | None, sent: Any) -> None:
        """managedFields for ``new`` as the strategy prepared it (so only what will be stored
        counts as changed): the Update by ``manager`` recorded, or (no manager: an apply, or an
        in-process writer) the ones the request carried (``sent``), else the stored ones."""
        meta = objmeta.metadata(new)
        if sent is None:
            sent = objmeta.metadata(current).get("managedFields")
        if sent:
            meta["managedFields"] = sent
        else:
            meta.pop("managedFields", None)
        if manager is not None:
            self.field_manager(subresource).update(current, new, manager)

    # -- subresources with a kind of their own ------------------------------------------------

    async def get_scale(self, namespace: str, name: str) -> Object:
        """The object's autoscaling/v1 Scale (``spec.scale`` must be declared)."""
        assert self.spec.scale is not None
        return self.spec.scale.scale_of(await self.get(namespace, name))

    async def update_scale(self, namespace: str, name: str, change: Callable[[Object], Object],
                           user: UserInfo, *, dry_run: bool = False,
                           options: Mapping[str, Any] | None = None,
                           preconditions: Preconditions | None = None,
                           manager: str | None = None) -> Object:
        """kube's ScaleREST.Update: ``change(old scale) -> new scale`` (a PUT's body, or the patch
        applied to the current Scale) is validated and admitted as a Scale, then its replicas are
        written into the object, which goes through the resource's own strategy (generation,
        validation). Returns the new Scale."""
        scale_spec = self.spec.scale
        assert scale_spec is not None

        async def mutate(current: Object) -> Object:
            old = scale_spec.scale_of(current)
            new = change(copy.deepcopy(old))
            if not isinstance(new, dict):
                raise status.bad_request("the Scale must be a JSON object")
            new["apiVersion"], new["kind"] = "autoscaling/v1", SCALE_GVK.kind
            self._check_namespace(new, namespace)
            self._validate_scale(new, name)
            await self._admit("UPDATE", new, old, user, dry_run, namespace, name, options, "scale",
                              SCALE_GVK)
            self._validate_scale(new, name)  # as a mutating plugin left it
            return scale_spec.apply(current, new)

        result, _ = await self.update(namespace, name, mutate, user, dry_run=dry_run,
                                      subresource="scale", options=options, check_name=False,
                                      preconditions=preconditions, admit=False, manager=manager)
        return scale_spec.scale_of(result)

    def _validate_scale(self, scale: Object, name: str) -> None:
        errors = validate_scale(scale, self.spec.namespaced)
        if errors:  # Scale.autoscaling "<name>" is invalid: ...
            raise validation.invalid(SCALE_GVK.kind, name, errors, SCALE_GVK.group)

    async def create_subresource(self, namespace: str, name: str, subresource: str, body: Object,
                                 user: UserInfo, *, stores: Callable[[str, str], Any],
                                 dry_run: bool = False,
                                 options: Mapping[str, Any] | None = None) -> Object:
        """POST to a custom subresource (kube's NamedCreater): ``body`` of the subresource's kind
        is admitted as a CREATE of ``<resource>/<subresource>``, then handed to its handler."""
        custom = self.spec.custom_subresources[subresource]
        body["apiVersion"], body["kind"] = custom.group_version, custom.kind
        self._check_namespace(body, namespace)
        if options is None:
            options = options_object("CreateOptions", dry_run)
        await self._admit("CREATE", body, None, user, dry_run, namespace, name, options,
                          subresource, custom.gvk)
        return await custom.handler(SubresourceCall(self, namespace, name, body, user, dry_run,
                                                    options, stores))

    # -- deletes ------------------------------------------------------------------------------

    def _finished_deleting(self, obj: Object) -> bool:
        meta = objmeta.metadata(obj)
        return bool(meta.get("deletionTimestamp")) and not self.spec.strategy.delete_pending(obj)

    async def _delete_now(self, namespace: str, name: str, expected: Object) -> Object:
        async with self._translate(name):
            deleted = await self.storage.delete(
                self.key(namespace, name),
                preconditions=Preconditions(resource_version=objmeta.resource_version(expected)))
        await self.spec.strategy.after_delete(deleted)
        return deleted

    async def delete(self, namespace: str, name: str, user: UserInfo, *,
                     preconditions: Preconditions | None = None, dry_run: bool = False,
                     options: Mapping[str, Any] | None = None) -> tuple[Object, bool]:
        """Delete, or mark for deletion when finalizers remain; returns (object, deleted now)."""
        current = await self.get(namespace, name)
        self._check_preconditions(current, preconditions)
        await self._admit("DELETE", None, current, user, dry_run, namespace, name, options)
        if self.spec.strategy.delete_pending(current) or objmeta.metadata(current).get("deletionTimestamp"):
            if dry_run:
                return current, False
            return await self._mark_deleting(namespace, name, preconditions), False
        if dry_run:
            return current, True
        async with self._translate(name):
            deleted = await self.storage.delete(self.key(namespace, name), preconditions=Preconditions(
                uid=objmeta.metadata(current).get("uid"),
                resource_version=preconditions.resource_version if preconditions else None))
        await self.spec.strategy.after_delete(deleted)
        return deleted, True

    def _check_preconditions(self, current: Object, preconditions: Preconditions | None) -> None:
        """rest.BeforeDelete's early check; kube names the kind (not the resource) in the 409."""
        if preconditions is None:
            return
        meta = objmeta.metadata(current)
        name = meta.get("name", "")
        if preconditions.uid and preconditions.uid != meta.get("uid"):
            raise status.conflict(self.spec.group, self.spec.kind, name, (
                f"the UID in the precondition ({preconditions.uid}) does not match the UID in record "
                f"({meta.get('uid', '')}). The object might have been deleted and then recreated"))
        if preconditions.resource_version and preconditions.resource_version != meta.get("resourceVersion"):
            raise status.conflict(self.spec.group, self.spec.kind, name, (
                f"the ResourceVersion in the precondition ({preconditions.resource_version}) does not "
                f"match the ResourceVersion in record ({meta.get('resourceVersion', '')}). The object "
                "might have been modified"))

    async def _mark_deleting(self, namespace: str, name: str, preconditions: Preconditions | None) -> Object:
        def mark(current: Object) -> Object:
            self._check_preconditions(current, preconditions)
            meta = objmeta.metadata(current)
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = objmeta.now_rfc3339()
                meta["deletionGracePeriodSeconds"] = 0
                self.spec.strategy.prepare_for_delete(current)
            return current

        async with self._translate(name):
            result = await self.storage.guaranteed_update(self.key(namespace, name), mark)
        if self._finished_deleting(result):
            return await self._delete_now(namespace, name, result)
        return result


def _field_manager(spec: ResourceSpec, converter: managedfields.TypeConverter,
                   subresource: str) -> managedfields.FieldManager:
    """The FieldManager of ``spec`` at ``subresource``, with the fields that endpoint resets
    ignored: ``status`` on the resource itself when it has a status subresource, and everything
    but ``status`` on ``/status`` (kube's GetResetFields of the generic strategies)."""
    from kernel.apimachinery import managedfields

    ref = converter.named(spec.schema_name)
    ignored = None
    if subresource == "status":
        properties = (spec.schemas.get(spec.schema_name) or {}).get("properties") or {}
        ignored = managedfields.Set.of(*((("f", name),) for name in properties
                                         if name not in ("status", "apiVersion", "kind")))
    elif not subresource and "status" in spec.subresources:
        ignored = managedfields.Set.of((("f", "status"),))
    return managedfields.FieldManager(ref, spec.group_version, spec.kind, subresource, ignored)

