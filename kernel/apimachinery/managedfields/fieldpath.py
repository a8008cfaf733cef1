"""Field paths and sets of them, and their ``FieldsV1`` encoding (sigs.k8s.io/structured-merge-diff's
``fieldpath``).

A path element names one step into an object:

* ``("f", name)`` a field of a map or struct (``f:name`` in FieldsV1, ``.name`` in messages);
* ``("k", ((key, value), ...))`` the item of an associative list with those key fields, sorted by
  key name (``k:{"name":"nginx"}``, ``[name="nginx"]``);
* ``("v", value)`` the item of a set list (``v:"foo"``, ``[="foo"]``);
* ``("i", n)`` a list index (``i:0``, ``[0]``), never produced by the kernel but decoded.

Values inside elements are kept hashable (:func:`hashable`): JSON scalars as they are, booleans
tagged (``True == 1`` in Python, not in JSON), lists and maps as their canonical JSON text.

A :class:`Set` is a tree: ``members`` are the paths that end at this node, ``children`` the
sub-sets below an element. Written by hand: no Python library implements kube's field sets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

PathElement = tuple[str, Any]
Path = tuple[PathElement, ...]

_BOOL = "\x00bool"
_JSON = "\x00json"


def hashable(value: Any) -> Any:
    """A JSON value as a dict key / set member that compares as JSON does."""
    if isinstance(value, bool):
        return (_BOOL, value)
    if isinstance(value, (dict, list)):
        return (_JSON, msgspec.json.encode(value, order="sorted").decode())
    return value


def unhashable(value: Any) -> Any:
    """The JSON value :func:`hashable` made ``value`` from."""
    if isinstance(value, tuple):
        return value[1] if value[0] == _BOOL else msgspec.json.decode(value[1])
    return value


def field(name: str) -> PathElement:
    return ("f", name)


# --- ordering and text -----------------------------------------------------------------------

def _value_order(value: Any) -> tuple[Any, ...]:
    """value.Compare's total order: numbers < strings < booleans < lists < maps < null."""
    if isinstance(value, tuple):
        if value[0] == _BOOL:
            return (2, value[1])
        decoded = msgspec.json.decode(value[1])
        return (3 if isinstance(decoded, list) else 4, value[1])
    if value is None:
        return (5,)
    if isinstance(value, str):
        return (1, value)
    return (0, value)


def sort_key(pe: PathElement) -> tuple[Any, ...]:
    """PathElement.Compare: field names, then keys, then values, then indexes."""
    kind, arg = pe
    if kind == "f":
        return (0, arg)
    if kind == "k":
        return (1, tuple((name, _value_order(value)) for name, value in arg))
    if kind == "v":
        return (2, _value_order(arg))
    return (3, arg)


def _go_value(value: Any) -> str:
    """value.ToString: strings quoted as Go's %q, the rest as JSON."""
    value = unhashable(value)
    if isinstance(value, str):
        return msgspec.json.encode(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return msgspec.json.encode(value).decode()


def element_string(pe: PathElement) -> str:
    kind, arg = pe
    if kind == "f":
        return "." + arg
    if kind == "k":
        return "[" + ",".join(f"{name}={_go_value(value)}" for name, value in arg) + "]"
    if kind == "v":
        return f"[={_go_value(arg)}]"
    return f"[{arg}]"


def path_string(path: Path) -> str:
    """fieldpath.Path.String(): ``.spec.containers[name="nginx"].image``."""
    return "".join(element_string(pe) for pe in path)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def encode_element(pe: PathElement) -> str:
    kind, arg = pe
    if kind == "f":
        return "f:" + arg
    if kind == "k":
        return "k:{" + ",".join(f"{_json(name)}:{_json(unhashable(v))}" for name, v in arg) + "}"
    if kind == "v":
        return "v:" + _json(unhashable(arg))
    return f"i:{arg}"


def decode_element(text: str) -> PathElement:
    """One FieldsV1 key; ValueError if it is not one."""
    kind, sep, rest = text.partition(":")
    if not sep:
        raise ValueError(f"unable to parse {text!r}: missing colon")
    if kind == "f":
        return ("f", rest)
    if kind == "v":
        return ("v", hashable(msgspec.json.decode(rest)))
    if kind == "i":
        return ("i", int(rest))
    if kind == "k":
        keys = msgspec.json.decode(rest)
        if not isinstance(keys, dict):
            raise ValueError(f"unable to parse {text!r}: key is not an object")
        return ("k", tuple(sorted((name, hashable(value)) for name, value in keys.items())))
    raise ValueError(f"unable to parse {text!r}: unknown element kind {kind!r}")


# --- the set ---------------------------------------------------------------------------------

class Set:
    """A set of field paths, as a tree."""

    __slots__ = ("members", "children")

    def __init__(self) -> None:
        self.members: set[PathElement] = set()
        self.children: dict[PathElement, Set] = {}

    @classmethod
    def of(cls, *paths: Path) -> Set:
        result = cls()
        for path in paths:
            result.insert(path)
        return result

    def empty(self) -> bool:
        return not self.members and all(child.empty() for child in self.children.values())

    def insert(self, path: Path) -> None:
        node = self
        for pe in path[:-1]:
            node = node.child(pe)
        if path:
            node.members.add(path[-1])

    def node(self, path: Path) -> Set:
        """The sub-set at ``path``, created if absent."""
        node = self
        for pe in path:
            node = node.child(pe)
        return node

    def child(self, pe: PathElement) -> Set:
        """The sub-set below ``pe``, created if absent."""
        node = self.children.get(pe)
        if node is None:
            node = self.children[pe] = Set()
        return node

    def has(self, path: Path) -> bool:
        node: Set | None = self
        for pe in path[:-1]:
            node = node.children.get(pe)
            if node is None:
                return False
        return bool(path) and path[-1] in node.members

    def with_prefix(self, pe: PathElement) -> Set:
        return self.children.get(pe) or _EMPTY

    def __iter__(self) -> Iterator[Path]:
        """Every member path, in kube's order."""
        for pe in sorted(self.members | set(self.children), key=sort_key):
            if pe in self.members:
                yield (pe,)
            child = self.children.get(pe)
            if child is not None:
                for rest in child:
                    yield (pe, *rest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Set) and list(self) == list(other)

    def __repr__(self) -> str:
        return "Set(" + ", ".join(path_string(p) for p in self) + ")"

    def copy(self) -> Set:
        result = Set()
        result.members = set(self.members)
        result.children = {pe: child.copy() for pe, child in self.children.items()}
        return result

    def union(self, other: Set) -> Set:
        result = Set()
        result.members = self.members | other.members
        for pe in self.children.keys() | other.children.keys():
            mine, theirs = self.children.get(pe), other.children.get(pe)
            if mine is None or theirs is None:
                result.children[pe] = (mine or theirs).copy()  # type: ignore[union-attr]
            else:
                result.children[pe] = mine.union(theirs)
        return result

    def intersection(self, other: Set) -> Set:
        result = Set()
        result.members = self.members & other.members
        for pe in self.children.keys() & other.children.keys():
            both = self.children[pe].intersection(other.children[pe])
            if not both.empty():
                result.children[pe] = both
        return result

    def difference(self, other: Set) -> Set:
        """The paths of ``self`` not in ``other`` (a member's descendants are not removed)."""
        result = Set()
        result.members = self.members - other.members
        for pe, child in self.children.items():
            theirs = other.children.get(pe)
            rest = child.copy() if theirs is None else child.difference(theirs)
            if not rest.empty():
                result.children[pe] = rest
        return result

    def recursive_difference(self, other: Set) -> Set:
        """The paths of ``self`` neither in ``other`` nor below one of its members."""
        result = Set()
        result.members = self.members - other.members
        for pe, child in self.children.items():
            if pe in other.members:
                continue
            theirs = other.children.get(pe)
            rest = child.copy() if theirs is None else child.recursive_difference(theirs)
            if not rest.empty():
                result.children[pe] = rest
        return result

    # -- FieldsV1 -------------------------------------------------------------------------------

    def to_fields_v1(self) -> dict[str, Any]:
        """The FieldsV1 JSON object: ``f:``/``k:``/``v:``/``i:`` keys in kube's order, ``.`` for a
        path that is a member and has children."""
        out: dict[str, Any] = {}
        for pe in sorted(self.members | set(self.children), key=sort_key):
            child = self.children.get(pe)
            if child is None or child.empty():
                out[encode_element(pe)] = {}
            else:
                inner = child.to_fields_v1()
                out[encode_element(pe)] = {".": {}, **inner} if pe in self.members else inner
        return out

    @classmethod
    def from_fields_v1(cls, fields: Any) -> Set:
        """Decode FieldsV1; ValueError if it is not a FieldsV1 object."""
        if not isinstance(fields, Mapping):
            raise ValueError("FieldsV1 must be a JSON object")
        result = cls()
        for key, value in fields.items():
            if key == ".":
                continue
            pe = decode_element(key)
            if not isinstance(value, Mapping):
                raise ValueError(f"FieldsV1 entry {key!r} must be a JSON object")
            if not value:
                result.members.add(pe)
                continue
            if "." in value:
                result.members.add(pe)
            child = cls.from_fields_v1(value)
            if not child.empty():
                result.children[pe] = child
        return result


_EMPTY = Set()
