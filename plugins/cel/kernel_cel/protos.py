"""Protobuf message types from schema Decls, so that cel-cpp's checker knows object fields.

The typed environment is used for checking only (``undefined field 'x'`` is a compile error,
as in kube); evaluation runs in a dyn environment over the plain JSON values, so no value is
ever converted to a message. Protobuf cannot nest lists or maps directly, so a list or map
whose elements are lists or maps is ``list(dyn)``/``map(string, dyn)`` inside a message."""

from __future__ import annotations

import itertools
from typing import Any

from cel_expr_python import cel
from google.protobuf import descriptor_pb2, descriptor_pool, duration_pb2, struct_pb2, timestamp_pb2

from . import opaque
from .schema import Decl

_SCALARS = {"bool": 8, "int": 3, "double": 1, "string": 9, "bytes": 12}
_WELL_KNOWN = {"timestamp": ".google.protobuf.Timestamp", "duration": ".google.protobuf.Duration",
               "dyn": ".google.protobuf.Value"}
_OPTIONAL, _REPEATED, _MESSAGE = 1, 3, 11
_packages = itertools.count(1)


class MessageBuilder:
    """One .proto file of messages for the objects of one declaration."""

    def __init__(self) -> None:
        self.package = f"kernel_cel.schema{next(_packages)}"
        self.file = descriptor_pb2.FileDescriptorProto(
            name=f"{self.package.replace('.', '/')}.proto", package=self.package, syntax="proto3",
            dependency=["google/protobuf/timestamp.proto", "google/protobuf/duration.proto",
                        "google/protobuf/struct.proto"])
        self.names: dict[int, str] = {}

    def cel_type(self, decl: Decl) -> Any:
        """The cel-cpp type of a variable declared with ``decl``."""
        if decl.kind == "object":
            return cel.Type(self.message(decl)[1:])
        if decl.kind == "list":
            return cel.Type.List(self.cel_type(decl.elem))
        if decl.kind == "map":
            return cel.Type.Map(cel.Type.STRING, self.cel_type(decl.elem))
        return {"bool": cel.Type.BOOL, "int": cel.Type.INT, "double": cel.Type.DOUBLE, "string": cel.Type.STRING,
                "bytes": cel.Type.BYTES, "timestamp": cel.Type.TIMESTAMP,
                "duration": cel.Type.DURATION}.get(decl.kind, cel.Type.DYN)

    def message(self, decl: Decl) -> str:
        """The full name (``.pkg.T1``) of the message for an object Decl, built once."""
        if id(decl) in self.names:
            return self.names[id(decl)]
        name = f"T{len(self.names) + 1}"
        self.names[id(decl)] = f".{self.package}.{name}"
        message = self.file.message_type.add(name=name)
        for number, (field_name, child) in enumerate(decl.fields.items(), start=1):
            self._field(message, field_name, number, child)
        return self.names[id(decl)]

    def _field(self, message: Any, name: str, number: int, decl: Decl) -> None:
        added = message.field.add(name=name, number=number, json_name=f"f{number}", label=_OPTIONAL)
        if decl.kind == "list":
            added.label = _REPEATED
            self._element(added, decl.elem)
        elif decl.kind == "map":
            entry_name = _entry_name(name)
            entry = message.nested_type.add(name=entry_name)
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, type=9, label=_OPTIONAL, json_name="key")
            self._element(entry.field.add(name="value", number=2, label=_OPTIONAL, json_name="value"), decl.elem)
            added.label, added.type = _REPEATED, _MESSAGE
            added.type_name = f".{self.package}.{message.name}.{entry_name}"
        else:
            self._element(added, decl)

    def _element(self, added: Any, decl: Decl) -> None:
        """``added``'s type for a value (not a container of containers) of ``decl``."""
        if decl.kind in _SCALARS:
            added.type = _SCALARS[decl.kind]
        elif decl.kind == "object":
            added.type, added.type_name = _MESSAGE, self.message(decl)
        else:  # dyn, timestamps, durations, and lists/maps nested in a list or map
            added.type, added.type_name = _MESSAGE, _WELL_KNOWN.get(decl.kind, ".google.protobuf.Value")


def _entry_name(field_name: str) -> str:
    """protobuf requires a map field's entry type to be its CamelCase name plus ``Entry``."""
    out, upper = [], True
    for char in field_name:
        if char == "_":
            upper = True
        elif upper:
            out.append(char.upper())
            upper = False
        else:
            out.append(char)
    return "".join(out) + "Entry"


def pool_with(files: list[Any]) -> Any:
    """A descriptor pool with the well-known types, kube's opaque types and ``files``."""
    pool = descriptor_pool.DescriptorPool()
    for module in (timestamp_pb2, duration_pb2, struct_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        pool.Add(proto)
    for proto in opaque.FILES:
        pool.Add(proto)
    for proto in files:
        pool.Add(proto)
    return pool
