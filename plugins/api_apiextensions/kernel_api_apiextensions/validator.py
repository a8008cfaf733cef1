"""Validation of a custom resource against its compiled schema, with kube-openapi's messages and
the field paths apiextensions-apiserver reports (``spec.replicas: Invalid value: "string":
spec.replicas in body must be of type integer: "string"``)."""

from __future__ import annotations

import base64
import json
import ipaddress
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from kernel.apimachinery.lazyre import lazy_compile
from kernel.apimachinery.validation import FieldError, GoLiteral

from kernel_api_apiextensions.schema import OBJECT_FIELDS, Node


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return len(text) == 10
    except ValueError:
        return False


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return "T" in text.upper() or " " in text
    except ValueError:
        return False


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
        return "/" in text
    except ValueError:
        return False


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
        return len(text) in (32, 36)
    except ValueError:
        return False


def _is_byte(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
        return True
    except ValueError:
        return False


_HOSTNAME = lazy_compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                         r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_EMAIL = lazy_compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAC = lazy_compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_DURATION = lazy_compile(r"^[-+]?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$")
#: The string formats kube checks (k8s.io/kube-openapi/pkg/validation/strfmt); others pass.
FORMATS: dict[str, Callable[[str], bool]] = {
    "date": _is_date, "date-time": _is_datetime, "datetime": _is_datetime,
    "ipv4": lambda t: _is_ip(t, 4), "ipv6": lambda t: _is_ip(t, 6), "cidr": _is_cidr,
    "uuid": _is_uuid, "byte": _is_byte, "hostname": lambda t: bool(_HOSTNAME.match(t)),
    "email": lambda t: bool(_EMAIL.match(t)), "mac": lambda t: bool(_MAC.match(t)),
    "duration": lambda t: bool(_DURATION.match(t)),
}


def _key_map(item: Any, keys: tuple[str, ...]) -> Any:
    """A map-list item's keys as kube prints them in a Duplicate error (Go's %#v of the map)."""
    if not isinstance(item, dict):
        return item
    shown = ", ".join(f'"{k}":{json.dumps(item[k])}' for k in keys if k in item)
    return GoLiteral("map[string]interface {}{" + shown + "}")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Validator:
    """Collects the FieldErrors of one object."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def type_error(self, path: str, value: Any, expected: str) -> None:
        actual = json_type(value)
        self.errors.append(FieldError.invalid(
            path, actual, f'{path} in body must be of type {expected}: "{actual}"'))

    def validate(self, value: Any, node: Node, path: str = "", *, root: bool = False) -> None:
        if value is None:
            if not node.nullable and (node.type or node.int_or_string):
                self.type_error(path, value, node.type or "integer,string")
            return
        if node.int_or_string:
            if json_type(value) not in ("integer", "string"):
                self.type_error(path, value, "integer,string")
                return
        elif node.type and not self._type_ok(value, node.type):
            self.type_error(path, value, node.type)
            return
        if node.enum is not None and value not in node.enum:
            self.errors.append(FieldError.not_supported(
                path, value, [v if isinstance(v, str) else str(v) for v in node.enum]))
        if isinstance(value, str):
            self._string(value, node, path)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._number(value, node, path)
        elif isinstance(value, list):
            self._array(value, node, path)
        elif isinstance(value, dict):
            self._object(value, node, path, root=root)

    @staticmethod
    def _type_ok(value: Any, expected: str) -> bool:
        actual = json_type(value)
        return actual == expected or (expected == "number" and actual == "integer")

    def _string(self, value: str, node: Node, path: str) -> None:
        if node.max_length is not None and len(value) > node.max_length:
            self.errors.append(FieldError.too_long(path, value, node.max_length))
        if node.min_length is not None and len(value) < node.min_length:
            self.errors.append(FieldError.invalid(
                path, value, f"{path} in body should be at least {node.min_length} chars long"))
        if node.pattern is not None and not node.pattern.search(value):
            self.errors.append(FieldError.invalid(
                path, value, f"{path} in body should match '{node.pattern_text}'"))
        check = FORMATS.get(node.format)
        if check is not None and not check(value):
            self.errors.append(FieldError.invalid(
                path, value, f'{path} in body must be of type {node.format}: "{value}"'))

    def _number(self, value: float, node: Node, path: str) -> None:
        if node.minimum is not None:
            if node.exclusive_minimum and value <= node.minimum:
                self.errors.append(FieldError.invalid(
                    path, value, f"{path} in body should be greater than {_number(node.minimum)}"))
            elif value < node.minimum:
                self.errors.append(FieldError.invalid(path, value, (
                    f"{path} in body should be greater than or equal to {_number(node.minimum)}")))
        if node.maximum is not None:
            if node.exclusive_maximum and value >= node.maximum:
                self.errors.append(FieldError.invalid(
                    path, value, f"{path} in body should be less than {_number(node.maximum)}"))
            elif value > node.maximum:
                self.errors.append(FieldError.invalid(path, value, (
                    f"{path} in body should be less than or equal to {_number(node.maximum)}")))

    def _array(self, value: list[Any], node: Node, path: str) -> None:
        if node.max_items is not None and len(value) > node.max_items:
            self.errors.append(FieldError.too_many(path, len(value), node.max_items))
        if node.min_items is not None and len(value) < node.min_items:
            self.errors.append(FieldError.invalid(
                path, value, f"{path} in body should have at least {node.min_items} items"))
        if node.items is not None:
            for i, item in enumerate(value):
                self.validate(item, node.items, f"{path}[{i}]")
        if node.list_type == "set":
            self._unique(value, path, lambda item: item)
        elif node.list_type == "map" and node.map_keys:
            self._unique(value, path, lambda item: _key_map(item, node.map_keys))

    def _unique(self, value: list[Any], path: str, key: Callable[[Any], Any]) -> None:
        seen: list[Any] = []
        for i, item in enumerate(value):
            k = key(item)
            if k in seen:
                self.errors.append(FieldError.duplicate(f"{path}[{i}]", k))
            else:
                seen.append(k)

    def _object(self, value: dict[str, Any], node: Node, path: str, *, root: bool) -> None:
        if node.max_properties is not None and len(value) > node.max_properties:
            self.errors.append(FieldError.too_many(path, len(value), node.max_properties))
        if node.min_properties is not None and len(value) < node.min_properties:
            self.errors.append(FieldError.invalid(path, value, (
                f"{path} in body should have at least {node.min_properties} properties")))
        for name in node.required:
            if name not in value:
                self.errors.append(FieldError.required(_child(path, name), ""))
        if node.embedded:
            for name in ("apiVersion", "kind"):
                if not value.get(name):
                    self.errors.append(FieldError.required(_child(path, name), "must not be empty"))
        for key, item in value.items():
            if (root or node.embedded) and key == "metadata":
                continue  # ObjectMeta is validated as metadata, not by the schema
            child = node.properties.get(key)
            if child is None and isinstance(node.additional, Node):
                child = node.additional
            if child is not None:
                self.validate(item, child, _child(path, key))
            elif root and key in OBJECT_FIELDS and not isinstance(item, str):
                self.type_error(key, item, "string")


def validate_object(obj: dict[str, Any], node: Node) -> list[FieldError]:
    """Every schema violation of a custom resource (the object, from its root)."""
    validator = Validator()
    validator.validate(obj, node, "", root=True)
    return validator.errors
