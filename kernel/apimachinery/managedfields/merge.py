"""Ownership of fields by managers across updates and applies (structured-merge-diff's ``merge``).

A manager is identified by :class:`Manager` (name, operation, apiVersion, subresource) and owns a
:class:`VersionedSet`. An *update* gives its manager the fields it changed and takes them from
everyone else; an *apply* merges a configuration, makes its manager own exactly the fields of the
configuration, removes the fields the manager applied last time and no one owns any more, and
fails with :class:`Conflicts` when it changes a field another manager owns (unless forced).

Field sets are compared at the request's version only: a manager recorded at another version of
the same kind is compared as if its paths were the same (true of custom resources served with
conversion ``None``, the common case; kube converts the objects for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from kernel.apimachinery.managedfields.fieldpath import Path, Set, path_string
from kernel.apimachinery.managedfields.schema import MapType, TypeRef
from kernel.apimachinery.managedfields.typed import Comparison, compare, field_set, merge, remove_items


class Manager(NamedTuple):
    """BuildManagerIdentifier's fields: an Apply manager is one entry whatever its apiVersion."""

    name: str
    operation: str  # "Apply" or "Update"
    api_version: str  # "" for Apply
    subresource: str = ""


@dataclass
class VersionedSet:
    fields: Set
    api_version: str
    applied: bool


ManagedFields = dict[Manager, VersionedSet]


@dataclass(frozen=True)
class Conflict:
    manager: Manager
    path: Path


class Conflicts(Exception):
    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(", ".join(f"{c.manager.name}: {path_string(c.path)}" for c in conflicts))
        self.conflicts = conflicts

    def paths(self) -> Set:
        return Set.of(*(conflict.path for conflict in self.conflicts))


class Updater:
    """merge.Updater for one kind: ``ignored`` are the fields this endpoint resets (``status``
    on the main resource, everything but ``status`` on ``/status``), never owned through it."""

    def __init__(self, ref: TypeRef, ignored: Set | None = None) -> None:
        self.ref = ref
        self.ignored = ignored

    def _filter(self, fields: Set) -> Set:
        return fields if self.ignored is None else fields.recursive_difference(self.ignored)

    def diff(self, old: Any, new: Any) -> Comparison:
        """What ``new`` changes of ``old``, outside the ignored fields."""
        return compare(old, new, self.ref).exclude(self.ignored)

    def _update(self, old: Any, new: Any, managers: ManagedFields, workflow: Manager,
                force: bool, diff: Comparison | None = None) -> Comparison:
        """Take what changed from every manager but ``workflow``; Conflicts unless ``force``."""
        if diff is None:
            diff = self.diff(old, new)
        changed = diff.modified.union(diff.added)
        conflicts: dict[Manager, Set] = {}
        for manager, owned in managers.items():
            if manager == workflow:
                continue
            clash = owned.fields.intersection(changed)
            if not clash.empty():
                conflicts[manager] = clash
        if conflicts and not force:
            raise Conflicts([Conflict(manager, path) for manager in sorted(conflicts)
                             for path in conflicts[manager]])
        for manager in list(managers):
            if manager == workflow:
                continue
            owned = managers[manager]
            rest = owned.fields
            if manager in conflicts:
                rest = rest.difference(conflicts[manager])
            if not diff.removed.empty():
                rest = rest.difference(diff.removed)
            if rest.empty():
                del managers[manager]
            elif rest is not owned.fields:
                managers[manager] = VersionedSet(rest, owned.api_version, owned.applied)
        return diff

    def update(self, live: Any, new: Any, api_version: str, managers: ManagedFields,
               manager: Manager, diff: Comparison | None = None) -> ManagedFields:
        """An Update by ``manager``: it owns what it changed, on top of what it owned."""
        managers = dict(managers)
        diff = self._update(live, new, managers, manager, True, diff)
        previous = managers.get(manager)
        owned = previous.fields.difference(diff.removed) if previous else Set()
        owned = self._filter(owned.union(diff.modified).union(diff.added))
        if owned.empty():
            managers.pop(manager, None)
        else:
            managers[manager] = VersionedSet(owned, api_version, False)
        return managers

    def apply(self, live: Any, config: Any, api_version: str, managers: ManagedFields,
              manager: Manager, force: bool) -> tuple[Any, ManagedFields]:
        """An Apply of ``config`` by ``manager``: the merged object and the new ownership."""
        managers = dict(managers)
        merged = merge(live, config, self.ref)
        last = managers.get(manager)
        managers[manager] = VersionedSet(self._filter(field_set(config, self.ref, strict=True)),
                                         api_version, True)
        if last is not None and not last.fields.empty():
            merged = self._prune(merged, managers, last.fields)
        self._update(live, merged, managers, manager, force)
        return merged, managers

    def _prune(self, merged: Any, managers: ManagedFields, last: Set) -> Any:
        """Remove what the applier owned last time and no manager owns now (prune, with the
        named struct fields on the way counted as owned, as EnsureNamedFieldsAreMembers does)."""
        owned = Set()
        for versioned in managers.values():
            owned = owned.union(versioned.fields)
        gone = named_fields(last, self.ref).difference(named_fields(owned, self.ref))
        return merged if gone.empty() else remove_items(merged, gone, self.ref)


def named_fields(fields: Set, ref: TypeRef) -> Set:
    """``fields`` plus every struct field (a declared property) on the way to one of them."""
    result = Set()
    result.members = set(fields.members)
    atom = ref.resolve()
    struct: MapType | None = atom.map
    for pe, child in fields.children.items():
        child_ref = None
        if pe[0] == "f" and struct is not None:
            child_ref = struct.fields.get(pe[1])
            if child_ref is not None:
                result.members.add(pe)
            else:
                child_ref = struct.element
        elif atom.list is not None:
            child_ref = atom.list.element
        result.children[pe] = named_fields(child, child_ref) if child_ref is not None else child.copy()
    return result
