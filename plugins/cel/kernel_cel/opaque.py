"""kube's opaque CEL types (Quantity, URL, IP, CIDR, Format, Semver, the authorizer's checks)
as protobuf messages.

cel-expr-python can only hand a function's result back to cel-cpp if it is a plain value or a
protobuf message (an arbitrary Python object fails: "Unimplemented type"), so each opaque type is
a message with kube's type name whose fields hold a canonical string form. Equality is then
field equality, which is why e.g. a Quantity stores its exact value, not its spelling.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_STRING, _OPTIONAL = 9, 1

# package -> message -> fields (name, type, label)
_MESSAGES: dict[str, dict[str, list[tuple[str, int, int]]]] = {
    "kubernetes": {
        "Quantity": [("value", _STRING, _OPTIONAL)],
        "URL": [("value", _STRING, _OPTIONAL)],
        "NamedFormat": [("name", _STRING, _OPTIONAL)],
        "Semver": [("value", _STRING, _OPTIONAL)],
    },
    "net": {"IP": [("value", _STRING, _OPTIONAL)], "CIDR": [("value", _STRING, _OPTIONAL)]},
    "kubernetes.authorization": {
        "Authorizer": [("handle", _STRING, _OPTIONAL), ("service_account", _STRING, _OPTIONAL)],
        "PathCheck": [("handle", _STRING, _OPTIONAL), ("service_account", _STRING, _OPTIONAL),
                      ("path", _STRING, _OPTIONAL)],
        "GroupCheck": [("handle", _STRING, _OPTIONAL), ("service_account", _STRING, _OPTIONAL),
                       ("group", _STRING, _OPTIONAL)],
        "ResourceCheck": [(name, _STRING, _OPTIONAL) for name in (
            "handle", "service_account", "group", "resource", "subresource", "namespace", "name",
            "field_selector", "label_selector")],
        "Decision": [("decision", _STRING, _OPTIONAL), ("reason", _STRING, _OPTIONAL),
                     ("error", _STRING, _OPTIONAL)],
    },
    "kernel_cel": {
        "Unused": [],  # receiver of implementation-only overloads (see decls)
    },
}

POOL = descriptor_pool.DescriptorPool()
FILES: list[Any] = []  # the file protos, for typed environments' own pools
_CLASSES: dict[str, Any] = {}


def _build() -> None:
    for package, messages in _MESSAGES.items():
        proto = descriptor_pb2.FileDescriptorProto(
            name=f"kernel_cel/{package.replace('.', '_')}.proto", package=package, syntax="proto3")
        for message, fields in messages.items():
            added = proto.message_type.add(name=message)
            for number, (field, kind, label) in enumerate(fields, start=1):
                added.field.add(name=field, number=number, type=kind, label=label)
        POOL.Add(proto)
        FILES.append(proto)
        for message in messages:
            full = f"{package}.{message}"
            _CLASSES[full] = message_factory.GetMessageClass(POOL.FindMessageTypeByName(full))


_build()


def new(type_name: str, **fields: Any) -> Any:
    """A message of one of the opaque types, e.g. ``new("net.IP", value="10.0.0.1")``."""
    return _CLASSES[type_name](**fields)


def type_name(value: Any) -> str | None:
    descriptor = getattr(value, "DESCRIPTOR", None)
    return descriptor.full_name if descriptor is not None else None
