"""Structured merge over JSON values and their schema (structured-merge-diff's ``typed``).

* :func:`field_set` - the fields a value sets (what an applier owns);
* :func:`compare` - the fields added, modified and removed between two values (what an update
  changes);
* :func:`merge` - an applied configuration merged onto the live object;
* :func:`remove_items` - a value without the fields of a set.

Lists are atomic (replaced whole) or associative (items matched by key, or by value for a set);
maps separable (key by key) or atomic. Equal subtrees are skipped with one C-level comparison,
so the cost of an update follows what it changes, not the size of the object. Written by hand:
no Python library does kube's structured merge.
"""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.managedfields.fieldpath import Path, PathElement, Set, hashable, path_string
from kernel.apimachinery.managedfields.schema import ATOMIC, Atom, ListType, MapType, TypeRef

_MISSING: Any = object()  # absent, as opposed to a JSON null


class TypedError(ValueError):
    """A value that does not fit its schema; ``str()`` is kube's ``.path: message``."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path_string(path)}: {message}" if path else message)


def _item_element(t: ListType, item: Any, path: Path) -> PathElement:
    """listItemToPathElement: an associative list's item as a path element."""
    if t.keys:
        if not isinstance(item, dict):
            raise TypedError(path, "associative list with keys may not have non-map elements")
        element = t.element.resolve().map
        defaults = element.defaults if element is not None else {}
        keys = []
        for name in t.keys:
            if name in item:
                keys.append((name, hashable(item[name])))
            elif defaults.get(name) is not None:
                keys.append((name, hashable(defaults[name])))
        if not keys:
            raise TypedError(path, "associative list with keys has an element that omits all key "
                             f"fields {_go_list(t.keys)} (and doesn't have default values for any key fields)")
        return ("k", tuple(sorted(keys)))
    if isinstance(item, dict):
        raise TypedError(path, "associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise TypedError(path, "not supported: associative list with lists as elements")
    if item is None:
        raise TypedError(path, "associative list without keys has an element that's an explicit null")
    return ("v", hashable(item))


def _go_list(names: tuple[str, ...]) -> str:
    return "[" + " ".join(f'"{name}"' for name in names) + "]"


def _field_type(t: MapType, key: str, path: Path, strict: bool, deduced: TypeRef) -> TypeRef:
    ref = t.fields.get(key) or t.element
    if ref is None:
        if strict:
            raise TypedError((*path, ("f", key)), "field not declared in schema")
        return deduced
    return ref


# --- field sets --------------------------------------------------------------------------------

def field_set(value: Any, ref: TypeRef, *, strict: bool = False) -> Set:
    """ToFieldSet. ``strict``: a field the schema does not declare, or a duplicate list-map key,
    is a :class:`TypedError` (an applied configuration); otherwise they are tolerated."""
    walker = _FieldSetWalker(strict, ref._converter.deduced)
    result = Set()
    walker.walk(value, ref, (), result, None)
    return result


class _FieldSetWalker:
    def __init__(self, strict: bool, deduced: TypeRef) -> None:
        self.strict = strict
        self.deduced = deduced

    def walk(self, value: Any, ref: TypeRef, path: Path, parent: Set, pe: PathElement | None) -> bool:
        """Add what ``value`` at ``path`` sets below ``parent``; True if the path itself is a member
        (a scalar or an atomic value)."""
        atom = ref.resolve().deduce(value)
        kind = _shape(atom)
        if kind == "map":
            return self.map(value, atom.map, path, parent, pe)  # type: ignore[arg-type]
        if kind == "list":
            return self.list(value, atom.list, path, parent, pe)  # type: ignore[arg-type]
        if self.strict and isinstance(value, (dict, list)):
            raise TypedError(path, f"expected scalar, got {_kind(value)}")
        return True

    def map(self, value: Any, t: MapType, path: Path, parent: Set, pe: PathElement | None) -> bool:
        if t.relationship == ATOMIC:
            return True
        if value is None:
            return False
        if not isinstance(value, dict):
            if self.strict:
                raise TypedError(path, f"expected map, got {_kind(value)}")
            return True
        node = parent.child(pe) if pe is not None else parent
        for key, child in value.items():
            child_pe: PathElement = ("f", key)
            child_path = (*path, child_pe)
            member = self.walk(child, _field_type(t, key, path, self.strict, self.deduced), child_path,
                               node, child_pe)
            if member or child is None or child == {} or key not in t.fields:
                node.members.add(child_pe)
        _prune_empty(parent, pe)
        return False

    def list(self, value: Any, t: ListType, path: Path, parent: Set, pe: PathElement | None) -> bool:
        if t.relationship == ATOMIC:
            return True
        if not value:
            return False
        if not isinstance(value, list):
            if self.strict:
                raise TypedError(path, f"expected list, got {_kind(value)}")
            return True
        node = parent.child(pe) if pe is not None else parent
        seen: set[PathElement] = set()
        duplicates: set[PathElement] = set()
        elements = []
        for item in value:
            item_pe = _item_element(t, item, path)
            if item_pe in seen:
                if self.strict:
                    raise TypedError(path, f"duplicate entries for key {path_string((item_pe,))}")
                duplicates.add(item_pe)
            seen.add(item_pe)
            elements.append((item_pe, item))
        for item_pe, item in elements:
            node.members.add(item_pe)
            if item_pe not in duplicates:
                self.walk(item, t.element, (*path, item_pe), node, item_pe)
        _prune_empty(parent, pe)
        return False


def _prune_empty(parent: Set, pe: PathElement | None) -> None:
    if pe is not None and pe in parent.children and parent.children[pe].empty():
        del parent.children[pe]


def _kind(value: Any) -> str:
    return "map" if isinstance(value, dict) else "list" if isinstance(value, list) else repr(value)


# --- compare -----------------------------------------------------------------------------------

class Comparison:
    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added, self.modified, self.removed = Set(), Set(), Set()

    def empty(self) -> bool:
        return self.added.empty() and self.modified.empty() and self.removed.empty()

    def exclude(self, ignored: Set | None) -> Comparison:
        if ignored is not None and not ignored.empty():
            self.added = self.added.recursive_difference(ignored)
            self.modified = self.modified.recursive_difference(ignored)
            self.removed = self.removed.recursive_difference(ignored)
        return self


def compare(old: Any, new: Any, ref: TypeRef) -> Comparison:
    """The fields ``new`` adds, modifies and removes relative to ``old`` (typed.Compare)."""
    result = Comparison()
    _Comparer(result, ref._converter.deduced).walk(old, new, ref, ())
    return result


class _Comparer:
    def __init__(self, result: Comparison, deduced: TypeRef) -> None:
        self.result = result
        self.deduced = deduced

    def leaf(self, lhs: Any, rhs: Any, path: Path) -> None:
        if lhs is _MISSING:
            self.result.added.insert(path)
        elif rhs is _MISSING:
            self.result.removed.insert(path)
        elif lhs != rhs:
            self.result.modified.insert(path)

    def walk(self, lhs: Any, rhs: Any, ref: TypeRef, path: Path) -> None:
        if lhs is not _MISSING and rhs is not _MISSING and lhs == rhs:
            return  # nothing below differs either
        atom = ref.resolve()
        present = rhs if rhs is not _MISSING else lhs
        kind = _shape(atom.deduce(present))
        other = lhs if rhs is not _MISSING else _MISSING
        if other is not _MISSING and other is not None and present is not None and \
                _shape(atom.deduce(other)) != kind:
            self.result.modified.insert(path)  # the value changed its kind: a new leaf
            return
        if kind == "map" and _granular(atom.map, lhs, rhs):
            assert atom.map is not None
            lmap = lhs if isinstance(lhs, dict) else {}
            rmap = rhs if isinstance(rhs, dict) else {}
            node: Set | None = None
            for key in _ordered_keys(lmap, rmap):
                left, right = lmap.get(key, _MISSING), rmap.get(key, _MISSING)
                if left is not _MISSING and (left is right or left == right):
                    continue  # the common case, without a call
                child_ref = _field_type(atom.map, key, path, False, self.deduced)
                if left is _MISSING:  # a new field (every field of a create): all of it added
                    if node is None:
                        node = self.result.added.node(path)
                    self.added(right, child_ref, node, ("f", key), path)
                else:
                    self.walk(left, right, child_ref, (*path, ("f", key)))
        elif kind == "list" and _granular(atom.list, lhs, rhs):
            assert atom.list is not None
            self.items(atom.list, lhs if isinstance(lhs, list) else [], rhs if isinstance(rhs, list) else [], path)
        else:
            self.leaf(lhs, rhs, path)
            return
        if lhs is _MISSING:
            self.result.added.insert(path)
        elif rhs is _MISSING:
            self.result.removed.insert(path)

    def added(self, value: Any, ref: TypeRef, parent: Set, pe: PathElement, path: Path) -> None:
        """``walk(_MISSING, value, ref, (*path, pe))`` with ``parent`` the added set's node at
        ``path``: the same members, put straight into the tree (no path walked from the root
        per leaf)."""
        atom = ref.resolve()
        kind = _shape(atom.deduce(value))
        if kind == "map" and isinstance(value, dict) and value and atom.map is not None and \
                atom.map.relationship != ATOMIC:
            node = parent.child(pe)
            child_path = (*path, pe)
            for key, child in value.items():
                self.added(child, _field_type(atom.map, key, child_path, False, self.deduced),
                           node, ("f", key), child_path)
        elif kind == "list" and isinstance(value, list) and value and atom.list is not None and \
                atom.list.relationship != ATOMIC:
            node = parent.child(pe)
            child_path = (*path, pe)
            element = atom.list.element
            for item_pe, items in _index(atom.list, value, child_path).items():
                if len(items) == 1:
                    self.added(items[0], element, node, item_pe, child_path)
                else:
                    node.members.add(item_pe)
        parent.members.add(pe)

    def items(self, t: ListType, lhs: list[Any], rhs: list[Any], path: Path) -> None:
        lvalues = _index(t, lhs, path)
        rvalues = _index(t, rhs, path)
        for pe in [*lvalues, *(pe for pe in rvalues if pe not in lvalues)]:
            left, right = lvalues.get(pe, []), rvalues.get(pe, [])
            item_path = (*path, pe)
            if len(left) <= 1 and len(right) <= 1:
                self.walk(left[0] if left else _MISSING, right[0] if right else _MISSING, t.element, item_path)
            elif len(left) >= 2 and len(right) >= 2:
                if left != right:
                    self.result.modified.insert(item_path)
            elif len(left) >= 2:
                if right:
                    self.walk(_MISSING, right[0], t.element, item_path)
                self.result.removed.insert(item_path)
            else:
                if left:
                    self.walk(left[0], _MISSING, t.element, item_path)
                self.result.added.insert(item_path)


def _shape(atom: Atom) -> str:
    """handleAtom's choice for a deduced atom: map first, then scalar, then list."""
    if atom.map is not None:
        return "map"
    return "scalar" if atom.scalar or atom.list is None else "list"


def _granular(t: ListType | MapType | None, lhs: Any, rhs: Any) -> bool:
    """Not atomic, and not empty on both sides (both empty is compared as one leaf)."""
    return t is not None and t.relationship != ATOMIC and bool(
        (lhs if lhs is not _MISSING else None) or (rhs if rhs is not _MISSING else None))


def _ordered_keys(lhs: dict[str, Any], rhs: dict[str, Any]) -> list[str]:
    return [*lhs, *(key for key in rhs if key not in lhs)]


def _index(t: ListType, items: list[Any], path: Path) -> dict[PathElement, list[Any]]:
    index: dict[PathElement, list[Any]] = {}
    for item in items:
        index.setdefault(_item_element(t, item, path), []).append(item)
    return index


# --- merge -------------------------------------------------------------------------------------

def merge(lhs: Any, rhs: Any, ref: TypeRef) -> Any:
    """``rhs`` (an applied configuration) merged onto ``lhs`` (the live object), typed.Merge:
    scalars and atomic values are replaced, separable maps merged key by key, associative lists
    item by item in the order :func:`_merge_items` keeps."""
    return _Merger(ref._converter.deduced).walk(lhs, rhs, ref, ())


class _Merger:
    def __init__(self, deduced: TypeRef) -> None:
        self.deduced = deduced

    def walk(self, lhs: Any, rhs: Any, ref: TypeRef, path: Path) -> Any:
        if rhs is _MISSING:
            return lhs
        if lhs is _MISSING or lhs == rhs:
            return rhs
        atom = ref.resolve()
        kind = _shape(atom.deduce(rhs))
        if lhs is None or rhs is None or _shape(atom.deduce(lhs)) != kind:
            return rhs
        if kind == "map" and _granular(atom.map, lhs, rhs):
            assert atom.map is not None
            out = {}
            for key in _ordered_keys(lhs, rhs):
                value = self.walk(lhs.get(key, _MISSING), rhs.get(key, _MISSING),
                                  _field_type(atom.map, key, path, False, self.deduced), (*path, ("f", key)))
                if value is not _MISSING:
                    out[key] = value
            return out
        if kind == "list" and _granular(atom.list, lhs, rhs):
            assert atom.list is not None
            return self.items(atom.list, lhs, rhs, path)
        return rhs

    def items(self, t: ListType, lhs: list[Any], rhs: list[Any], path: Path) -> list[Any]:
        """visitListItems' order: the applied items in their order, each live-only item kept
        where it was relative to the items both sides share."""
        lpes = [_item_element(t, item, path) for item in lhs]
        rpes = []
        rvalues: dict[PathElement, Any] = {}
        for item in rhs:
            pe = _item_element(t, item, path)
            if pe in rvalues:
                raise TypedError(path, f"duplicate entries for key {path_string((pe,))}")
            rvalues[pe] = item
            rpes.append(pe)
        lvalues: dict[PathElement, Any] = {}
        for pe, item in zip(lpes, lhs):
            lvalues[pe] = None if pe in lvalues else item  # a duplicated key merges as absent
        shared = [pe for pe in rpes if pe in lvalues]
        out: list[Any] = []
        merged: set[PathElement] = set()
        li = ri = si = 0

        def merge_item(pe: PathElement) -> None:
            left = lvalues.get(pe, _MISSING)
            value = self.walk(_MISSING if left is None else left, rvalues.get(pe, _MISSING), t.element,
                              (*path, pe))
            if value is not _MISSING:
                out.append(value)

        while li < len(lpes) or ri < len(rpes):
            if li < len(lpes) and ri < len(rpes):
                pe = lpes[li]
                if pe == rpes[ri]:
                    merged.add(pe)
                    merge_item(pe)
                    li, ri, si = li + 1, ri + 1, si + 1
                    continue
                if pe in rvalues and si < len(shared) and shared[si] != pe:
                    li += 1
                    continue
            if li < len(lpes):
                pe = lpes[li]
                if pe not in rvalues:
                    merge_item(pe)
                    li += 1
                    continue
                if pe in merged:
                    li += 1
            if ri < len(rpes):
                pe = rpes[ri]
                merged.add(pe)
                merge_item(pe)
                ri += 1
                if si < len(shared) and shared[si] == pe:
                    si += 1
        return out


# --- remove ------------------------------------------------------------------------------------

def remove_items(value: Any, remove: Set, ref: TypeRef) -> Any:
    """``value`` without the paths of ``remove`` (a member removes its whole subtree)."""
    return _remove(value, remove, ref, ref._converter.deduced)


def _remove(value: Any, remove: Set, ref: TypeRef, deduced: TypeRef) -> Any:
    atom = ref.resolve().deduce(value)
    if isinstance(value, dict) and atom.map is not None:
        if not value or atom.map.relationship == ATOMIC:
            return value
        out = {}
        for key, child in value.items():
            pe: PathElement = ("f", key)
            if pe in remove.members:
                continue
            below = remove.children.get(pe)
            if below is not None:
                child_ref = atom.map.fields.get(key) or atom.map.element or deduced
                child = _emptied(child, _remove(child, below, child_ref, deduced))
            out[key] = child
        return out
    if isinstance(value, list) and atom.list is not None:
        if not value or atom.list.relationship == ATOMIC:
            return value
        items = []
        for item in value:
            pe = _item_element(atom.list, item, ())
            if pe in remove.members:
                continue
            below = remove.children.get(pe)
            if below is not None:
                item = _emptied(item, _remove(item, below, atom.list.element, deduced))
            items.append(item)
        return items
    return value


def _emptied(before: Any, after: Any) -> Any:
    """A container emptied by removal stays an empty container, as removingWalker keeps it."""
    if after is None and isinstance(before, dict):
        return {}
    if after is None and isinstance(before, list):
        return []
    return after
