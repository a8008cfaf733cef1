"""Strategic merge patch rules used by the merge walk in strategic.py.

Directive names, kube's error wording, values inserted whole, and how merged lists are ordered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._values import go_repr, go_type, identity
from .errors import PatchError, bad_request, generic_invalid, internal, invalid

Path = tuple[str, ...]

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"


# --- errors with kube's wording --------------------------------------------------------

def no_merge_key(item: Any, merge_key: str) -> PatchError:
    return internal(f"map: {go_repr(item)} does not contain declared merge key: {merge_key}")


def bad_patch_type(directive: Any, item: dict[str, Any]) -> PatchError:
    return internal(f"unknown patch type: {go_repr(directive)} in map: {go_repr(item)}")


def bad_arg_type(expected: str, value: Any) -> PatchError:
    return internal(f"expected a {expected}, but received a {go_type(value)}")


BAD_FORMAT = {
    DELETE_FROM_PRIMITIVE_LIST: "invalid patch format of primitive list",
    SET_ELEMENT_ORDER: "invalid patch format of setElementOrder list",
}


def directive_field(key: str, prefix: str) -> str:
    """The field a ``$prefix/<field>`` directive applies to (malformed: kube's 400)."""
    head, sep, name = key.partition("/")
    if head != prefix or not sep:
        raise bad_request(BAD_FORMAT[prefix])
    return name


def check_directive_key(key: str, path: Path) -> None:
    """Accept a known ``$`` key; refuse an unknown one.

    kube keeps unknown keys and its strict field validation (kubectl's default) then answers
    422 for the unknown field.
    """
    if key == RETAIN_KEYS or key == PATCH:
        return
    for prefix in (SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST):
        if key.startswith(prefix):
            directive_field(key, prefix)
            return
    raise invalid(f'strict decoding error: unknown field "{".".join(path + (key,))}"')


def check_list_directive(item: dict[str, Any]) -> str:
    directive: str = item[PATCH]
    if directive == "merge":
        raise internal("merging lists cannot yet be specified in the patch")
    if directive not in ("delete", "replace"):
        raise bad_patch_type(directive, item)
    return directive


# --- values inserted without an original counterpart ------------------------------------

class Drop:
    """A value that must not be stored (a ``$patch: delete`` map with nothing to delete)."""


DROP = Drop()


def fresh(value: Any, path: Path) -> Any:
    """The value a patch fragment stands for on its own: nulls and directives removed."""
    if isinstance(value, dict):
        return fresh_map(value, path)
    if isinstance(value, list):
        return fresh_list(value, path)
    return value


def fresh_map(value: dict[str, Any], path: Path) -> dict[str, Any] | Drop:
    if PATCH in value:
        directive = value[PATCH]
        if directive == "delete":
            return DROP
        if directive != "replace":
            raise bad_patch_type(directive, value)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key.startswith("$"):
            check_directive_key(key, path)
        elif item is not None:
            new = fresh(item, path + (key,))
            if new is not DROP:
                out[key] = new
    return out


def fresh_list(value: list[Any], path: Path) -> list[Any]:
    out = []
    for item in value:
        if isinstance(item, dict) and PATCH in item:
            check_list_directive(item)  # delete/replace markers have nothing to act on here
            continue
        out.append(fresh(item, path))
    return out


# --- list helpers ------------------------------------------------------------------------

def element_kind(*lists: list[Any]) -> str | None:
    """The one Go type of every element (kube's sliceElementType); None when all are empty."""
    kind: str | None = None
    for items in lists:
        for item in items:
            current = go_type(item)
            if kind is None:
                if isinstance(item, list):
                    raise generic_invalid("lists of lists are not supported")
                kind = current
            elif current != kind:
                raise internal(f"list element types are not identical: {go_repr(list(lists))}")
    return kind


def first_index(items: Iterable[Any], key_of: Any) -> dict[Any, int]:
    index: dict[Any, int] = {}
    for i, item in enumerate(items):
        index.setdefault(key_of(item), i)
    return index


def interleave(server_only: list[Any], patch_items: list[Any], server_order: dict[Any, int],
               key_of: Any) -> list[Any]:
    """Slot each server-only item before the first patch item it preceded on the server."""
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) and j < len(patch_items):
        left = server_order.get(key_of(server_only[i]))
        right = server_order.get(key_of(patch_items[j]))
        if left is not None and right is not None and left < right:
            out.append(server_only[i])
            i += 1
        else:
            out.append(patch_items[j])
            j += 1
    return out + server_only[i:] + patch_items[j:]


def normalize_order(merged: list[Any], patch_order: list[Any], server_order: list[Any],
                    key_of: Any) -> list[Any]:
    """kube's ordering: patch items by ``patch_order``, server-only items interleaved."""
    wanted = first_index(patch_order, key_of)
    server = first_index(server_order, key_of)
    patch_items = [item for item in merged if key_of(item) in wanted]
    server_only = [item for item in merged if key_of(item) not in wanted]
    patch_items.sort(key=lambda item: wanted[key_of(item)])
    server_only.sort(key=lambda item: server.get(key_of(item), len(server)))
    return interleave(server_only, patch_items, server, key_of)


def key_function(merge_key: str | None) -> Any:
    if not merge_key:
        return identity

    def key_of(item: Any) -> Any:
        if not isinstance(item, dict):
            raise bad_arg_type("map[string]interface {}", item)
        if merge_key not in item:
            raise no_merge_key(item, merge_key)
        return identity(item[merge_key])

    return key_of


def validate_order(patch_list: list[Any], order: list[Any], merge_key: str | None) -> None:
    """Patch items must appear in ``$setElementOrder`` and in the same relative order."""
    if not patch_list or not order:
        return
    key_of = key_function(merge_key)
    items = patch_list
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise bad_arg_type("map[string]interface {}", item)
        items = [item for item in patch_list if item.get(PATCH) != "delete"]
    p = s = 0
    while p < len(items) and s < len(order):
        if isinstance(items[p], dict) and PATCH in items[p]:
            p += 1
            continue
        if key_of(items[p]) == key_of(order[s]):
            p += 1
        s += 1
    if p < len(items):
        raise internal(f"The order in patch list:\n{go_repr(patch_list)}\n doesn't match "
                       f"{SET_ELEMENT_ORDER} list:\n{go_repr(order)}\n")


class SliceView:
    """A list being merged, plus what a Go slice header over its original array would show.

    ``current`` is the list; ``view`` is the original ``len(original)`` positions of the
    backing array, which Go's in-place deletes shift and in-place appends overwrite.
    """

    def __init__(self, original: list[Any]) -> None:
        self.current = list(original)
        self.view = list(original)
        self.shared = True  # until a replace gives the list a new backing array

    def delete(self, index: int) -> None:
        length = len(self.current)
        del self.current[index]
        if self.shared:
            self.view[index:length - 1] = self.view[index + 1:length]

    def set(self, index: int, value: Any) -> None:
        self.current[index] = value
        if self.shared:
            self.view[index] = value

    def append(self, value: Any) -> None:
        if self.shared and len(self.current) < len(self.view):
            self.view[len(self.current)] = value
        self.current.append(value)

    def replace(self, values: list[Any]) -> None:
        self.current = values
        self.shared = False


def find(items: list[Any], merge_key: str, value: Any) -> int | None:
    """Index of the first map whose merge key equals ``value`` (kube's findMapInSlice...)."""
    wanted = identity(value)
    for index, item in enumerate(items):
        if merge_key in item and identity(item[merge_key]) == wanted:
            return index
    return None


def dedupe(items: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for item in items:
        key = identity(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
