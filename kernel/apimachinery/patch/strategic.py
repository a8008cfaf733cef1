"""Kubernetes strategic merge patch (application/strategic-merge-patch+json).

Semantics follow k8s.io/apimachinery/pkg/util/strategicpatch (server side: StrategicMergeMapPatch,
with parallel lists merged and unmatched nulls ignored):

* maps merge recursively; a null value deletes the key;
* lists are replaced unless their field's patch strategy is ``merge``: lists of scalars are then
  unioned, lists of maps are merged item by item on the field's merge key;
* a merged list is ordered the way kube orders it: items named in the patch follow the patch's
  order (or ``$setElementOrder/<field>`` when given), items only on the server keep their
  relative order and are slotted in before the first patch item they preceded on the server.
  So without ``$setElementOrder`` new items come first, as kube does;
* directives: ``$patch: replace|delete`` in a map, ``$patch: delete|replace`` as a list item,
  ``$retainKeys``, ``$setElementOrder/<field>``, ``$deleteFromPrimitiveList/<field>``.
  ``$patch: merge`` is refused as kube refuses it.

Where kube leaves directives or nulls inside a value it inserts wholesale (a new key, a new list
item, a replaced list) and relies on decoding into a Go struct to drop them, we drop them here,
since our objects are stored as plain JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._smp import (
    BAD_FORMAT,
    DELETE_FROM_PRIMITIVE_LIST,
    DROP,
    PATCH,
    RETAIN_KEYS,
    SET_ELEMENT_ORDER,
    Path,
    SliceView,
    bad_arg_type,
    bad_patch_type,
    check_directive_key,
    check_list_directive,
    dedupe,
    directive_field,
    element_kind,
    find,
    fresh,
    fresh_list,
    fresh_map,
    key_function,
    no_merge_key,
    normalize_order,
    validate_order,
)
from ._values import copy_json, copy_patch, guard_recursion, identity, json_kind
from .errors import PatchError, bad_request, internal

_STRATEGY_PARTS = frozenset({"merge", "replace", "retainKeys"})


class PatchMeta(Protocol):
    """Patch metadata of an object's fields (Go's ``patchStrategy``/``patchMergeKey`` tags).

    ``path`` names fields from the object root; list items are transparent, so the containers
    of a Deployment are ``("spec", "template", "spec", "containers")`` and their ports
    ``(..., "containers", "ports")``. Returns ``(strategy, merge_key)``: strategy is ``"merge"``,
    ``"replace"``, ``"retainKeys"``, ``"merge,retainKeys"`` or None (atomic).
    """

    def lookup(self, path: Path) -> tuple[str | None, str | None]: ...


@dataclass(frozen=True)
class StaticPatchMeta:
    """PatchMeta from a fixed table of field paths."""

    fields: Mapping[Path, tuple[str | None, str | None]] = field(default_factory=dict)

    def lookup(self, path: Path) -> tuple[str | None, str | None]:
        return self.fields.get(path, (None, None))


def patch_meta_from_dict(fields: Mapping[Path, tuple[str | None, str | None]]) -> StaticPatchMeta:
    """Build a PatchMeta from ``{("spec", "containers"): ("merge", "name"), ...}``."""
    table: dict[Path, tuple[str | None, str | None]] = {}
    for path, (strategy, merge_key) in fields.items():
        if not isinstance(path, tuple) or not all(isinstance(p, str) for p in path):
            raise ValueError(f"patch meta path must be a tuple of field names: {path!r}")
        try:
            _parse_strategy(strategy)
        except PatchError as err:
            raise ValueError(f"{path!r}: {err.message}") from None
        table[path] = (strategy, merge_key)
    return StaticPatchMeta(table)


NO_PATCH_META = StaticPatchMeta()


@guard_recursion
def strategic_merge_patch(document: dict[str, Any], patch: dict[str, Any],
                          schema: PatchMeta) -> dict[str, Any]:
    """Apply a strategic merge patch to a copy of ``document``."""
    if not isinstance(document, dict):
        raise bad_request("invalid JSON document")
    if not isinstance(patch, dict):
        # What decoding the body into map[string]interface{} answers in kube (400).
        raise bad_request(f"json: cannot unmarshal {json_kind(patch)} into Go value of type "
                          "map[string]interface {}")
    return _Merger(schema).merge_map(copy_json(document), copy_patch(patch), ())


def _parse_strategy(strategy: str | None) -> frozenset[str]:
    parts = frozenset(strategy.split(",")) if strategy else frozenset()
    if not parts <= _STRATEGY_PARTS or {"merge", "replace"} <= parts:
        raise internal(f"unexpected patch strategy: {strategy}")
    return parts


# --- the merge ---------------------------------------------------------------------------

class _Merger:
    """Merges a private copy of the patch into a private copy of the document, in place."""

    def __init__(self, schema: PatchMeta) -> None:
        self.schema = schema

    def lookup(self, path: Path) -> tuple[frozenset[str], str | None]:
        strategy, merge_key = self.schema.lookup(path)
        return _parse_strategy(strategy), merge_key

    def merge_map(self, original: dict[str, Any], patch: dict[str, Any],
                  path: Path) -> dict[str, Any]:
        if PATCH in patch:
            return self._map_directive(patch, path)
        self._retain_keys(original, patch)
        self._set_element_order(original, patch, path)
        deletions = []
        for key, value in patch.items():
            if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
                deletions.append((directive_field(key, DELETE_FROM_PRIMITIVE_LIST), value))
            elif key.startswith("$"):
                check_directive_key(key, path)
            else:
                self._merge_field(original, key, value, path + (key,))
        for name, value in deletions:
            self._delete_from_list(original, name, value, path + (name,))
        return original

    def _map_directive(self, patch: dict[str, Any], path: Path) -> dict[str, Any]:
        directive = patch[PATCH]
        if directive == "delete":
            return {}
        if directive == "replace":
            rest = {k: v for k, v in patch.items() if k != PATCH}
            return fresh_map(rest, path)  # type: ignore[return-value]  # never DROP
        raise bad_patch_type(directive, patch)

    def _merge_field(self, original: dict[str, Any], key: str, value: Any, path: Path) -> None:
        if value is None:
            original.pop(key, None)
            return
        current: Any = original.get(key)
        if key not in original or _shape(current) != _shape(value):
            self._store(original, key, fresh(value, path))
        elif isinstance(value, dict):
            strategy, _ = self.lookup(path)
            merged = (fresh(value, path) if "replace" in strategy
                      else self.merge_map(current, value, path))
            self._store(original, key, merged)
        elif isinstance(value, list):
            strategy, merge_key = self.lookup(path)
            original[key] = (self.merge_list(current, value, path, merge_key) if "merge" in strategy
                             else fresh_list(value, path))
        else:
            original[key] = value

    @staticmethod
    def _store(original: dict[str, Any], key: str, value: Any) -> None:
        if value is DROP:
            original.pop(key, None)
        else:
            original[key] = value

    def merge_list(self, original: list[Any], patch: list[Any], path: Path,
                   merge_key: str | None) -> list[Any]:
        """Merge a list whose strategy is ``merge``."""
        return self._merge_list(original, patch, path, merge_key)[0]

    def _merge_list(self, original: list[Any], patch: list[Any], path: Path,
                    merge_key: str | None) -> tuple[list[Any], list[Any]]:
        """The merged list, and the server order ``$setElementOrder`` then sorts against.

        That order is not simply the original list: kube deletes ``$patch: delete`` items by
        shifting the Go slice's backing array in place and appends new items into the room
        this frees, and ``$setElementOrder`` later reads the original slice header over that
        same array. :class:`SliceView` replays this so lists come out in kube's order.
        """
        if not original and not patch:
            return original, original
        if element_kind(original, patch) != "map[string]interface {}":
            return normalize_order(dedupe(original + patch), patch, original, identity), original
        if not merge_key:
            raise internal(f"cannot merge lists without merge key for {'.'.join(path)}")
        items = SliceView(original)
        patch = self._list_directives(items, patch, merge_key, path)
        server_order = list(items.current)  # before new items are appended
        for item in patch:
            self._merge_item(items, item, merge_key, path)
        merged = normalize_order(items.current, patch, server_order, key_function(merge_key))
        return merged, items.view

    def _merge_item(self, items: SliceView, item: dict[str, Any], merge_key: str,
                    path: Path) -> None:
        """Merge ``item`` into the first original item with its merge key value, else append."""
        if merge_key not in item:
            raise no_merge_key(item, merge_key)
        index = find(items.current, merge_key, item[merge_key])
        if index is None:
            items.append(fresh(item, path))
        else:
            items.set(index, self.merge_map(items.current[index], item, path))

    @staticmethod
    def _list_directives(items: SliceView, patch: list[Any], merge_key: str,
                         path: Path) -> list[Any]:
        """Apply ``$patch`` list items to ``items``; returns the other patch items."""
        rest = []
        replace = False
        for item in patch:
            if PATCH not in item:
                rest.append(item)
                continue
            if check_list_directive(item) == "replace":
                replace = True
                continue
            if merge_key not in item:
                raise no_merge_key(item, merge_key)
            while (index := find(items.current, merge_key, item[merge_key])) is not None:
                items.delete(index)
        if replace:
            items.replace(fresh_list(rest, path))
            return []
        return rest

    def _retain_keys(self, original: dict[str, Any], patch: dict[str, Any]) -> None:
        """``$retainKeys``: clear original keys not listed; every patched key must be listed."""
        if RETAIN_KEYS not in patch:
            return
        keys = patch.pop(RETAIN_KEYS)
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise bad_request("invalid patch format of retainKeys")
        retained = set(keys)
        for key, value in patch.items():
            if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
                continue
            if key not in retained:
                raise bad_request("invalid patch format of retainKeys")
        for key in [k for k in original if k not in retained]:
            del original[key]

    def _set_element_order(self, original: dict[str, Any], patch: dict[str, Any],
                           path: Path) -> None:
        """Merge each list named by ``$setElementOrder/<field>`` and put it in that order."""
        for directive in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
            order = patch.pop(directive)
            if not isinstance(order, list):
                raise bad_arg_type("[]interface {}", order)
            name = directive_field(directive, SET_ELEMENT_ORDER)
            in_original, in_patch = name in original, name in patch
            if not in_original and not in_patch:
                continue
            current: Any = original.get(name) if in_original else []
            wanted: Any = patch.pop(name) if in_patch else []
            for value in (current, wanted):
                if not isinstance(value, list):
                    raise bad_arg_type("[]interface {}", value)
            field_path = path + (name,)
            strategy, merge_key = self.lookup(field_path)
            validate_order(wanted, order, merge_key)
            server_order = current
            if not in_patch:
                merged = current
            elif not in_original:
                merged = fresh_list(wanted, field_path)
            elif "merge" in strategy:
                merged, server_order = self._merge_list(current, wanted, field_path, merge_key)
            else:
                merged = fresh_list(wanted, field_path)
            element_kind(current, wanted)
            key_of = key_function(merge_key)
            for item in order:
                key_of(item)  # kube requires the merge key in every $setElementOrder entry
            original[name] = normalize_order(merged, order, server_order, key_of)

    def _delete_from_list(self, original: dict[str, Any], name: str, value: Any,
                          path: Path) -> None:
        """``$deleteFromPrimitiveList/<field>``: drop these scalars from the list (any strategy)."""
        if value is None:
            original.pop(name, None)  # as kube: a null parallel list deletes the field
            return
        if not isinstance(value, list):
            raise bad_request(BAD_FORMAT[DELETE_FROM_PRIMITIVE_LIST])
        current = original.get(name)
        if not isinstance(current, list) or (not current and not value):
            return
        if element_kind(current, value) == "map[string]interface {}":
            raise bad_request(BAD_FORMAT[DELETE_FROM_PRIMITIVE_LIST])
        doomed = {identity(v) for v in value}
        original[name] = [v for v in current if identity(v) not in doomed]


def _shape(value: Any) -> type:
    """Maps, lists and scalars merge only with their own kind."""
    if isinstance(value, dict):
        return dict
    if isinstance(value, list):
        return list
    return object
