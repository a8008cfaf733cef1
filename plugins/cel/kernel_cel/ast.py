"""The checked AST of a compiled expression, decoded from cel-cpp's ``CheckedExpr`` (see wire.py):
expression nodes with their checked types and overload ids, what the cost estimator walks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import wire

# cel.expr.Expr field numbers
_CONST, _IDENT, _SELECT, _CALL, _LIST, _STRUCT, _COMPREHENSION = 3, 4, 5, 6, 7, 8, 9


@dataclass
class Type:
    """A checked type: ``kind`` is cel-go's kind name (bool, int, string, list, map, struct, ...)."""

    kind: str
    name: str = ""
    params: list["Type"] = field(default_factory=list)


DYN_TYPE = Type("dyn")


@dataclass
class Node:
    id: int
    kind: str  # literal, ident, select, call, list, map, struct, comprehension
    value: Any = None  # literal value; ident name; select field; call function
    children: list["Node"] = field(default_factory=list)
    target: "Node | None" = None
    test_only: bool = False
    # comprehension parts
    iter_var: str = ""
    iter_var2: str = ""
    accu_var: str = ""
    map_entries: list[tuple["Node", "Node"]] = field(default_factory=list)


@dataclass
class Checked:
    root: Node
    types: dict[int, Type]
    overloads: dict[int, list[str]]

    def type_of(self, node: Node) -> Type:
        return self.types.get(node.id, DYN_TYPE)


_PRIMITIVES = {1: "bool", 2: "int", 3: "uint", 4: "double", 5: "string", 6: "bytes"}
_WELL_KNOWN = {1: "any", 2: "timestamp", 3: "duration"}


def decode_type(buf: bytes) -> Type:
    msg = wire.fields(buf)
    if 3 in msg:
        return Type(_PRIMITIVES.get(wire.first(msg, 3), "dyn"))
    if 4 in msg:  # wrappers are nullable primitives
        return Type(_PRIMITIVES.get(wire.first(msg, 4), "dyn"))
    if 5 in msg:
        return Type(_WELL_KNOWN.get(wire.first(msg, 5), "dyn"))
    if 6 in msg:
        elem = wire.first(wire.fields(wire.first(msg, 6)), 1)
        return Type("list", params=[decode_type(elem) if elem else DYN_TYPE])
    if 7 in msg:
        inner = wire.fields(wire.first(msg, 7))
        return Type("map", params=[decode_type(wire.first(inner, 1, b"")), decode_type(wire.first(inner, 2, b""))])
    if 9 in msg:
        return Type("struct", wire.text(wire.first(msg, 9)))
    if 10 in msg:
        return Type("type_param", wire.text(wire.first(msg, 10)))
    if 14 in msg:
        inner = wire.fields(wire.first(msg, 14))
        return Type("opaque", wire.text(wire.first(inner, 1)), [decode_type(p) for p in inner.get(2, [])])
    if 2 in msg:
        return Type("null")
    if 11 in msg:
        return Type("type")
    return DYN_TYPE


def _constant(buf: bytes) -> Any:
    msg = wire.fields(buf)
    if 1 in msg:
        return None
    if 2 in msg:
        return bool(wire.first(msg, 2))
    if 3 in msg:
        return wire.signed(wire.first(msg, 3))
    if 4 in msg:
        return wire.first(msg, 4)
    if 5 in msg:
        return wire.double(wire.first(msg, 5))
    if 6 in msg:
        return wire.text(wire.first(msg, 6))
    if 7 in msg:
        return bytes(wire.first(msg, 7))
    return None


def decode_expr(buf: bytes) -> Node:
    msg = wire.fields(buf)
    node_id = wire.first(msg, 2, 0)
    if _CONST in msg:
        return Node(node_id, "literal", _constant(wire.first(msg, _CONST)))
    if _IDENT in msg:
        return Node(node_id, "ident", wire.text(wire.first(wire.fields(wire.first(msg, _IDENT)), 1)))
    if _SELECT in msg:
        sel = wire.fields(wire.first(msg, _SELECT))
        return Node(node_id, "select", wire.text(wire.first(sel, 2)), [decode_expr(wire.first(sel, 1, b""))],
                    test_only=bool(wire.first(sel, 3, 0)))
    if _CALL in msg:
        call = wire.fields(wire.first(msg, _CALL))
        target = wire.first(call, 1)
        return Node(node_id, "call", wire.text(wire.first(call, 2)), [decode_expr(a) for a in call.get(3, [])],
                    target=decode_expr(target) if target is not None else None)
    if _LIST in msg:
        return Node(node_id, "list", None, [decode_expr(e) for e in wire.fields(wire.first(msg, _LIST)).get(1, [])])
    if _STRUCT in msg:
        return _decode_struct(node_id, wire.fields(wire.first(msg, _STRUCT)))
    if _COMPREHENSION in msg:
        return _decode_comprehension(node_id, wire.fields(wire.first(msg, _COMPREHENSION)))
    return Node(node_id, "literal", None)


def _decode_struct(node_id: int, msg: dict) -> Node:
    entries = [wire.fields(e) for e in msg.get(2, [])]
    if wire.first(msg, 1):  # a message construction
        return Node(node_id, "struct", wire.text(wire.first(msg, 1)),
                    [decode_expr(wire.first(e, 4, b"")) for e in entries])
    node = Node(node_id, "map")
    node.map_entries = [(decode_expr(wire.first(e, 3, b"")), decode_expr(wire.first(e, 4, b""))) for e in entries]
    return node


def _decode_comprehension(node_id: int, msg: dict) -> Node:
    parts = [decode_expr(wire.first(msg, n, b"")) for n in (2, 4, 5, 6, 7)]
    return Node(node_id, "comprehension", None, parts, iter_var=wire.text(wire.first(msg, 1)),
                accu_var=wire.text(wire.first(msg, 3)), iter_var2=wire.text(wire.first(msg, 8)))


def decode_checked(serialized: bytes) -> Checked:
    """From ``Expression.serialize()``: an ``Any`` holding a ``cel.expr.CheckedExpr``."""
    outer = wire.fields(serialized)
    checked = wire.fields(wire.first(outer, 2, b""))
    overloads: dict[int, list[str]] = {}
    for entry in checked.get(2, []):
        pair = wire.fields(entry)
        reference = wire.fields(wire.first(pair, 2, b""))
        overloads[wire.signed(wire.first(pair, 1, 0))] = [wire.text(o) for o in reference.get(3, [])]
    types = {}
    for entry in checked.get(3, []):
        pair = wire.fields(entry)
        types[wire.signed(wire.first(pair, 1, 0))] = decode_type(wire.first(pair, 2, b""))
    return Checked(decode_expr(wire.first(checked, 4, b"")), types, overloads)
