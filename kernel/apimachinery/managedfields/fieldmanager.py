"""``metadata.managedFields`` kept on every write (k8s.io/apimachinery's managedfields FieldManager).

:meth:`FieldManager.update` records an Update (create, PUT, a non-apply PATCH) by its manager;
:meth:`FieldManager.apply` performs a server-side apply. Around the merge of :mod:`.merge` they
do what kube's manager chain does:

* managedFields a client sends are used if they decode and are not empty; ``[{}]`` clears them;
  a subresource never takes them from the request;
* an object that exists without managedFields is not tracked until its first apply, which first
  records its current fields as ``before-first-apply``;
* at most 10 Update managers: the oldest are folded into ``ancient-changes``;
* metadata that identifies the object (name, uid, resourceVersion, ...) is never owned;
* ``kubectl``'s apply takes over fields that client-side apply set (the fields of the
  last-applied annotation still equal in the live object) without a conflict, and keeps that
  annotation current, so client-side and server-side apply can follow each other.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from kernel.apimachinery import status
from kernel.apimachinery.meta import now_rfc3339
from kernel.apimachinery.managedfields.fieldpath import Set, field, path_string
from kernel.apimachinery.managedfields.merge import Conflicts, ManagedFields, Manager, Updater, VersionedSet
from kernel.apimachinery.managedfields.schema import TypeRef
from kernel.apimachinery.managedfields.typed import Comparison, TypedError, compare, field_set

Object = dict[str, Any]

MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"
BEFORE_FIRST_APPLY = "before-first-apply"
CURRENT_OPERATION = "current-operation"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
#: ValidateAnnotationsSize's limit: the annotation is dropped rather than exceed it.
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024

_STRIPPED = Set.of((field("apiVersion"),), (field("kind"),), (field("metadata"),),
                   *((field("metadata"), field(name)) for name in (
                       "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
                       "generation", "managedFields", "resourceVersion")))


class ManagedFieldsError(ValueError):
    """managedFields that do not decode."""


# --- encoding ----------------------------------------------------------------------------------

def decode(entries: Any) -> tuple[ManagedFields, dict[Manager, str | None]]:
    """DecodeManagedFields: the sets and times of ``metadata.managedFields``."""
    managed: ManagedFields = {}
    times: dict[Manager, str | None] = {}
    if entries is None:
        return managed, times
    if not isinstance(entries, list):
        raise ManagedFieldsError("managedFields must be a list")
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ManagedFieldsError(f"managed fields entry {index} must be an object")
        operation = entry.get("operation")
        if operation not in ("Apply", "Update"):
            raise ManagedFieldsError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion")
        if not isinstance(api_version, str) or not api_version:
            raise ManagedFieldsError("apiVersion must not be empty")
        if entry.get("fieldsType") != "FieldsV1":
            raise ManagedFieldsError(f"invalid fieldsType in managed fields entry {index}")
        manager = Manager(str(entry.get("manager") or ""), operation,
                          "" if operation == "Apply" else api_version, str(entry.get("subresource") or ""))
        try:
            fields = Set.from_fields_v1(entry.get("fieldsV1") or {})
        except (ValueError, msgspec.DecodeError) as error:
            raise ManagedFieldsError(f"error decoding set: {error}") from None
        managed[manager] = VersionedSet(fields, api_version, operation == "Apply")
        time = entry.get("time")
        times[manager] = time if isinstance(time, str) else None
    return managed, times


def encode(managed: ManagedFields, times: Mapping[Manager, str | None]) -> list[Object]:
    """encodeManagedFields, sorted as kube sorts them: operation, time, manager, apiVersion,
    subresource."""
    entries = []
    for manager, versioned in managed.items():
        entry: Object = {"manager": manager.name,
                         "operation": "Apply" if versioned.applied else "Update",
                         "apiVersion": versioned.api_version}
        time = times.get(manager)
        if time:
            entry["time"] = time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = versioned.fields.to_fields_v1()
        if manager.subresource:
            entry["subresource"] = manager.subresource
        entries.append(entry)
    entries.sort(key=lambda e: (e["operation"], e.get("time") or "", e["manager"], e["apiVersion"],
                                e.get("subresource", "")))
    return entries


def manager_or_user_agent(manager: str | None, user_agent: str | None) -> str:
    """managerOrUserAgent: the fieldManager, else the User-Agent up to its first ``/``, printable
    characters only, at most 128 bytes."""
    if manager:
        return manager
    out, size = [], 0
    for char in (user_agent or "").split("/", 1)[0]:
        if not char.isprintable():
            continue
        size += len(char.encode())
        if size > 128:
            break
        out.append(char)
    return "".join(out)


# --- errors ------------------------------------------------------------------------------------

def _describe(manager: Manager, time: str | None = None) -> str:
    """printManager: how a conflict names its manager."""
    text = msgspec.json.encode(manager.name).decode()
    if manager.subresource:
        text += f" with subresource {msgspec.json.encode(manager.subresource).decode()}"
    if manager.operation == "Update":
        text += f" using {manager.api_version}" + (f" at {time}" if time else "")
    return text


def conflict_error(conflicts: Conflicts) -> status.StatusError:
    """NewApplyConflict: 409 Conflict with one FieldManagerConflict cause per field."""
    items = conflicts.conflicts
    causes = [{"type": "FieldManagerConflict", "message": f"conflict with {_describe(c.manager)}",
               "field": path_string(c.path)} for c in items]
    if len(items) == 1:
        message = (f"Apply failed with 1 conflict: conflict with {_describe(items[0].manager)}: "
                   f"{path_string(items[0].path)}")
    else:
        lines = []
        for manager in sorted({c.manager for c in items}):
            lines.append(f"conflicts with {_describe(manager)}:")
            lines += [f"- {path_string(c.path)}" for c in items if c.manager == manager]
        message = f"Apply failed with {len(items)} conflicts: " + "\n".join(lines)
    return status.StatusError(409, "Conflict", message, {"causes": causes})


def _gvk(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def _identity(obj: Object, api_version: str, kind: str) -> str:
    """objectGVKNN: ``namespace/name; group/version, Kind=Kind``."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}; {_gvk(api_version, kind)}"


# --- the field manager -------------------------------------------------------------------------

class FieldManager:
    """managedFields of one kind at one endpoint (the resource, or a subresource of it)."""

    def __init__(self, ref: TypeRef, api_version: str, kind: str, subresource: str = "",
                 ignored: Set | None = None, now: Callable[[], str] | None = None) -> None:
        self.ref = ref
        self.api_version = api_version
        self.kind = kind
        self.subresource = subresource
        self.updater = Updater(ref, ignored)
        self._now = now or now_rfc3339

    def _manager(self, name: str, operation: str) -> Manager:
        return Manager(name or "unknown", operation, self.api_version if operation == "Update" else "",
                       self.subresource)

    # -- updates ------------------------------------------------------------------------------

    def update(self, live: Object | None, new: Object, manager: str) -> None:
        """Record in ``new``'s managedFields the Update of ``live`` (None: a create) by
        ``manager``. Never fails: managedFields that cannot be worked out are dropped, as kube's
        UpdateNoErrors does."""
        meta = new.setdefault("metadata", {})
        try:
            stored = _meta(live).get("managedFields")
            if live is not None and stored and (self.subresource or meta.get("managedFields") in (None, stored)):
                # the usual update: the stored managedFields apply; unchanged unless fields changed
                meta.pop("managedFields", None)
                diff = self.updater.diff(_without_managed_fields(live), new)
                if diff.empty():
                    meta["managedFields"] = stored
                    return
                managed, times = decode(stored)
            else:
                diff = None
                managed, times = self._live_or_new(live, meta)
                meta.pop("managedFields", None)
                if not managed and live is not None and _meta(live).get("uid"):
                    return  # an untracked object stays untracked until it is applied
            managed = self._record_update(_without_managed_fields(live or {}), new, managed, times,
                                          self._manager(manager, "Update"), diff)
        except (ManagedFieldsError, TypedError):
            meta.pop("managedFields", None)
            return
        self._store(new, managed, times)

    def _live_or_new(self, live: Object | None, meta: Object) -> tuple[ManagedFields, dict[Manager, str | None]]:
        """decodeLiveOrNew: the request's managedFields unless absent, empty, undecodable or sent
        to a subresource; ``[{}]`` (or ``[]``) resets them."""
        sent = meta.get("managedFields")
        live_entries = _meta(live).get("managedFields") if live is not None else None
        if self.subresource:
            return _decode_or_empty(live_entries)
        if isinstance(sent, list) and (not sent or sent == [{}]):
            return {}, {}
        try:
            managed, times = decode(sent)
        except ManagedFieldsError:
            managed, times = {}, {}
        if not managed:
            return _decode_or_empty(live_entries)
        return managed, times

    def _record_update(self, live: Object, new: Object, managed: ManagedFields,
                       times: dict[Manager, str | None], manager: Manager,
                       diff: Comparison | None = None) -> ManagedFields:
        """managedFieldsUpdater + capManagers + stripMeta around Updater.update."""
        current = Manager(CURRENT_OPERATION, "Update", self.api_version, self.subresource)
        result = self.updater.update(live, new, self.api_version, managed, current, diff)
        changed = result.pop(current, None)
        if changed is not None:
            previous = result.get(manager)
            fields = changed.fields.union(previous.fields) if previous else changed.fields
            result[manager] = VersionedSet(fields, self.api_version, False)
            times[manager] = self._now()
        _cap_update_managers(result, times)
        _strip(result, manager)
        return result

    # -- apply --------------------------------------------------------------------------------

    def apply(self, live: Object | None, config: Object, manager: str, force: bool) -> Object:
        """Server-side apply of ``config`` by ``manager`` onto ``live`` (None: create by apply).
        Returns the new object with its managedFields; raises kube's Status errors."""
        self._check_config(config)
        config = msgspec.json.decode(msgspec.json.encode(config))  # merged shares its subtrees
        live = live or {}
        live_meta = _meta(live)
        managed, times = _decode_or_empty(live_meta.get("managedFields"))
        live_plain = _without_managed_fields(live)
        if not managed and live_plain:
            managed = self._record_update({}, live_plain, managed, times,
                                          self._manager(BEFORE_FIRST_APPLY, "Update"))
        applier = self._manager(manager, "Apply")
        try:
            merged, managed = self._apply_upgrading_csa(live_plain, config, managed, applier, force)
        except TypedError as error:
            raise status.StatusError(500, "", f"failed to create typed patch object "
                                     f"({_identity(config, self.api_version, self.kind)}): {error}") from None
        if merged != live_plain or applier not in times:  # a no-op apply keeps its time
            times[applier] = self._now()
        _strip(managed, applier)
        if merged == live_plain and encode(managed, times) == live_meta.get("managedFields"):
            return copy.deepcopy(live)  # nothing changed: the stored object, byte for byte
        if manager == "kubectl" and _meta(merged).get("annotations", {}).get(LAST_APPLIED):
            _set_last_applied(merged, config)
        self._store(merged, managed, times)
        return merged

    def _check_config(self, config: Object) -> None:
        api_version, kind = config.get("apiVersion"), config.get("kind")
        if api_version != self.api_version or kind != self.kind:  # versionCheckManager, outermost
            raise status.bad_request(f"invalid object type: {_gvk(str(api_version or ''), str(kind or ''))}")
        if _meta(config).get("managedFields") is not None:
            raise status.bad_request("metadata.managedFields must be nil")

    def _apply_upgrading_csa(self, live: Object, config: Object, managed: ManagedFields,
                             applier: Manager, force: bool) -> tuple[Object, ManagedFields]:
        """lastAppliedManager: ``kubectl``'s conflicts with fields that client-side apply set and
        that still hold their last-applied value are not conflicts."""
        try:
            return self.updater.apply(live, config, self.api_version, managed, applier, force)
        except Conflicts as conflicts:
            allowed = self._csa_fields(live) if applier.name == "kubectl" else None
            if allowed is None:
                raise conflict_error(conflicts) from None
            rest = [c for c in conflicts.conflicts if not allowed.has(c.path)]
            if rest:
                raise conflict_error(Conflicts(rest)) from None
            return self.updater.apply(live, config, self.api_version, managed, applier, True)

    def _csa_fields(self, live: Object) -> Set | None:
        text = _meta(live).get("annotations", {}).get(LAST_APPLIED)
        if not text:
            return None
        try:
            last = msgspec.json.decode(text)
            if not isinstance(last, dict) or last.get("apiVersion") != self.api_version:
                return None
            fields = field_set(last, self.ref, strict=True)
            diff = compare(last, live, self.ref)
        except (msgspec.DecodeError, TypedError):
            return None
        return fields.difference(diff.modified).difference(diff.added).difference(diff.removed)

    def _store(self, obj: Object, managed: ManagedFields, times: Mapping[Manager, str | None]) -> None:
        meta = obj.setdefault("metadata", {})
        if managed:
            meta["managedFields"] = encode(managed, times)
        else:
            meta.pop("managedFields", None)


def _meta(obj: Object | None) -> Object:
    meta = (obj or {}).get("metadata")
    return meta if isinstance(meta, dict) else {}


def _decode_or_empty(entries: Any) -> tuple[ManagedFields, dict[Manager, str | None]]:
    try:
        return decode(entries)
    except ManagedFieldsError:
        return {}, {}


def _without_managed_fields(obj: Object) -> Object:
    if "managedFields" not in _meta(obj):
        return obj
    result = dict(obj)
    result["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    return result


def _strip(managed: ManagedFields, manager: Manager) -> None:
    """stripMetaManager: identity metadata is never owned."""
    versioned = managed.get(manager)
    if versioned is None:
        return
    rest = versioned.fields.difference(_STRIPPED)
    if rest.empty():
        del managed[manager]
    else:
        managed[manager] = VersionedSet(rest, versioned.api_version, versioned.applied)


def _cap_update_managers(managed: ManagedFields, times: dict[Manager, str | None]) -> None:
    """capManagersManager: beyond 10 Update managers, the oldest are merged into one
    ``ancient-changes`` entry per apiVersion."""
    updaters = [m for m, v in managed.items() if not v.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda m: (times.get(m) or "", m))
    first_by_version: dict[str, Manager] = {}
    count = len(updaters)
    for manager in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        versioned = managed[manager]
        bucket = Manager(ANCIENT_CHANGES, "Update", versioned.api_version)
        first = first_by_version.get(versioned.api_version)
        if first is None:
            first_by_version[versioned.api_version] = manager
            continue
        if bucket not in managed:
            managed[bucket] = managed.pop(first)
        managed[bucket] = VersionedSet(versioned.fields.union(managed[bucket].fields),
                                       versioned.api_version, False)
        del managed[manager]
        times[bucket] = times.get(manager)
        count -= 1


def _set_last_applied(obj: Object, config: Object) -> None:
    """lastAppliedUpdater: kubectl's annotation follows what kubectl applied server-side."""
    applied = copy.deepcopy(config)
    annotations = _meta(applied).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    text = msgspec.json.encode(applied).decode()
    target = obj["metadata"].setdefault("annotations", {})
    target[LAST_APPLIED] = text
    if sum(len(k) + len(v) for k, v in target.items() if isinstance(v, str)) > TOTAL_ANNOTATION_SIZE_LIMIT:
        del target[LAST_APPLIED]


