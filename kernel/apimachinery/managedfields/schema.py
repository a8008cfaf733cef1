"""The merge schema of a kind, read from its OpenAPI v3 components (kube-openapi's ``schemaconv``).

What structured merge needs of a type is small: is it a scalar, a list or a map; a list is
``atomic`` (replaced whole) or ``associative`` (a set, or a map keyed by ``x-kubernetes-list-map-keys``);
a map is ``separable`` (each key on its own) or ``atomic`` (``x-kubernetes-map-type: atomic``).
Lists without ``x-kubernetes-list-type`` take the strategic-merge-patch hints, as kube does.
A type with no ``type`` (int-or-string, ``x-kubernetes-preserve-unknown-fields``) is *deduced* from
the value: maps separable, lists atomic. Atoms are built lazily and cached per converter, so a
kind's schema costs only what its objects reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_REF = "#/components/schemas/"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"

ATOMIC = "atomic"
ASSOCIATIVE = "associative"
SEPARABLE = "separable"


@dataclass(eq=False)
class ListType:
    relationship: str
    keys: tuple[str, ...]
    element: TypeRef


@dataclass(eq=False)
class MapType:
    relationship: str  # separable or atomic
    fields: dict[str, TypeRef] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    #: The type of keys that are not fields; None: such keys are not declared in the schema.
    element: TypeRef | None = None


@dataclass(eq=False)
class Atom:
    scalar: bool = False
    list: ListType | None = None
    map: MapType | None = None

    def deduce(self, value: Any) -> Atom:
        """deduceAtom: of a type that may be several things, the one ``value`` is."""
        if isinstance(value, dict):
            return _only_map(self) if self.map is not None else self
        if isinstance(value, list):
            return Atom(list=self.list) if self.list is not None else self
        if value is not None and self.scalar:
            return _SCALAR
        return self


_SCALAR = Atom(scalar=True)


def _only_map(atom: Atom) -> Atom:
    return atom if not atom.scalar and atom.list is None else Atom(map=atom.map)


class TypeRef:
    """A reference to a type: a named component (resolved on first use) or an inlined schema,
    with the ``x-kubernetes-map-type`` of the referring field overriding the component's."""

    __slots__ = ("_converter", "_schema", "_relationship", "_atom")

    def __init__(self, converter: TypeConverter, schema: Mapping[str, Any] | None,
                 relationship: str = "", atom: Atom | None = None) -> None:
        self._converter = converter
        self._schema = schema
        self._relationship = relationship
        self._atom = atom

    def resolve(self) -> Atom:
        atom = self._atom
        if atom is None:
            atom = self._converter.parse(self._schema or {})
            if self._relationship and atom.map is not None:
                atom = Atom(atom.scalar, atom.list, MapType(self._relationship, atom.map.fields,
                                                           atom.map.defaults, atom.map.element))
            self._atom = atom
        return atom


class TypeConverter:
    """Atoms of one set of OpenAPI components (an API group's, or a custom resource's)."""

    def __init__(self, schemas: Mapping[str, Mapping[str, Any]], preserve_unknown_fields: bool = False) -> None:
        self.schemas = schemas
        self.preserve_unknown_fields = preserve_unknown_fields
        self._named: dict[str, Atom] = {}
        untyped = TypeRef(self, None, atom=Atom(True))
        untyped._atom = Atom(True, ListType(ATOMIC, (), untyped), MapType(ATOMIC, element=untyped))
        self.untyped = untyped
        deduced = TypeRef(self, None, atom=Atom(True))
        deduced._atom = Atom(True, ListType(ATOMIC, (), untyped), MapType(SEPARABLE, element=deduced))
        self.deduced = deduced

    def named(self, name: str) -> TypeRef:
        return TypeRef(self, {"$ref": _REF + name})

    def parse(self, schema: Mapping[str, Any]) -> Atom:
        ref = _ref_of(schema)
        if ref is not None:
            return self._component(ref)
        if schema.get("x-kubernetes-preserve-unknown-fields") is True:
            return _Parser(self, True).atom(schema)
        return _Parser(self, self.preserve_unknown_fields).atom(schema)

    def _component(self, name: str) -> Atom:
        atom = self._named.get(name)
        if atom is None:
            if name == QUANTITY:
                atom = _SCALAR
            elif name == RAW_EXTENSION:
                atom = self.untyped.resolve()
            else:
                atom = _Parser(self, self.preserve_unknown_fields).atom(self.schemas.get(name) or {})
            self._named[name] = atom
        return atom


def _ref_of(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if not ref:
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
            ref = all_of[0].get("$ref")
    if isinstance(ref, str) and ref:
        return ref.rsplit("/", 1)[-1]
    return None


class _Parser:
    def __init__(self, converter: TypeConverter, preserve: bool) -> None:
        self.converter = converter
        self.preserve = preserve

    def ref(self, schema: Mapping[str, Any]) -> TypeRef:
        """makeOpenAPIRef: a named type (with a map-type override) or an inlined one."""
        if _ref_of(schema) is not None:
            return TypeRef(self.converter, schema, _map_relationship(schema))
        preserve = self.preserve or schema.get("x-kubernetes-preserve-unknown-fields") is True
        return TypeRef(self.converter, None, atom=_Parser(self.converter, preserve).atom(schema))

    def atom(self, schema: Mapping[str, Any]) -> Atom:
        if schema.get("x-kubernetes-preserve-unknown-fields") is True:
            self.preserve = True
        kind = schema.get("type") or ""
        if isinstance(kind, list):
            kind = kind[0] if kind else ""
        if kind == "object":
            return Atom(map=self.map(schema))
        if kind == "array":
            return Atom(list=self.list(schema))
        if kind in ("integer", "number", "string", "boolean"):
            return _SCALAR
        if kind:
            return _SCALAR
        return Atom(True, self.list(schema), self.map(schema))

    def map(self, schema: Mapping[str, Any]) -> MapType:
        result = MapType(_map_relationship(schema) or SEPARABLE)
        properties = schema.get("properties") or {}
        for name, member in properties.items():
            result.fields[name] = self.ref(member)
            if "default" in member:
                result.defaults[name] = member["default"]
        additional = schema.get("additionalProperties")
        if additional is None or additional is False:
            if additional is None and (self.preserve or not properties):
                result.element = self.converter.deduced
        elif isinstance(additional, Mapping):
            result.element = self.ref(additional)
        else:
            result.element = self.converter.deduced
        return result

    def list(self, schema: Mapping[str, Any]) -> ListType:
        relationship, keys = _list_relationship(schema)
        items = schema.get("items")
        element = self.ref(items) if isinstance(items, Mapping) else self.converter.untyped
        return ListType(relationship, keys, element)


def _map_relationship(schema: Mapping[str, Any]) -> str:
    kind = schema.get("x-kubernetes-map-type")
    return ATOMIC if kind == "atomic" else SEPARABLE if kind == "granular" else ""


def _list_relationship(schema: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    kind = schema.get("x-kubernetes-list-type")
    if kind is not None:
        if kind == "set":
            return ASSOCIATIVE, ()
        if kind == "map":
            return ASSOCIATIVE, tuple(schema.get("x-kubernetes-list-map-keys") or ())
        return ATOMIC, ()
    strategy = schema.get("x-kubernetes-patch-strategy")
    if strategy in ("merge", "merge,retainKeys"):
        key = schema.get("x-kubernetes-patch-merge-key")
        return ASSOCIATIVE, ((key,) if isinstance(key, str) and key else ())
    return ATOMIC, ()
