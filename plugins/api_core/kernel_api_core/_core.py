"""Helpers the core/v1 resources share: quantities, printing, validation bits."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from kernel.apimachinery.lazyre import lazy_compile
from kernel.apimachinery.validation import FieldError, is_dns1123_label, is_qualified_name, is_label_value
from kernel.registry.resource import Object

NONE = "<none>"


def carry(obj: Object, old: Object, key: str) -> None:
    """obj[key] = old[key] (or absent, as in old): a part an update may not change."""
    if key in old:
        obj[key] = copy.deepcopy(old[key])
    else:
        obj.pop(key, None)


# -- quantities (resource.Quantity) -------------------------------------------------------------
# Written out rather than taken from the kubernetes client: the server must not depend on a client
# library, and kube's grammar (and its error message) is small.

_QUANTITY_RE = lazy_compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                            r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
            "P": Decimal("1e15"), "E": Decimal("1e18")}
QUANTITY_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def parse_quantity(value: Any) -> Decimal | None:
    """The value of a Quantity string (or number), or None when kube would not parse it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY_RE.match(value.strip())
    if not match or value != value.strip():
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
        if suffix in _BINARY:
            return base * _BINARY[suffix]
        if suffix[:1] in ("e", "E"):
            return base * (Decimal(10) ** int(suffix[1:]))
        return base * _DECIMAL[suffix]
    except (InvalidOperation, ValueError):
        return None


# -- printing -----------------------------------------------------------------------------------

def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: ``k=v,...`` sorted by key, ``<none>`` when empty."""
    if not labels:
        return NONE
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def or_none(value: Any) -> str:
    return str(value) if value not in (None, "") else NONE


# -- validation ---------------------------------------------------------------------------------

PORT_RANGE_MESSAGE = "must be between 1 and 65535, inclusive"


def validate_port(port: Any, path: str) -> list[FieldError]:
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        return [FieldError.invalid(path, port, PORT_RANGE_MESSAGE)]
    return []


def validate_port_name(name: str, path: str) -> list[FieldError]:
    """validation.IsValidPortName: an IANA_SVC_NAME (at most 15 characters, a letter, no '--')."""
    errs = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if not re.search(r"[a-z]", name):
        errs.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return [FieldError.invalid(path, name, m) for m in errs]


def validate_label_map(labels: Mapping[str, Any] | None, path: str) -> list[FieldError]:
    """ValidateLabels on a selector map: qualified-name keys, label values."""
    errs: list[FieldError] = []
    for key, value in (labels or {}).items():
        errs += [FieldError.invalid(path, key, m) for m in is_qualified_name(key)]
        errs += [FieldError.invalid(f"{path}[{key}]", value, m) for m in is_label_value(str(value))]
    return errs


def check_enum(value: Any, path: str, supported: Sequence[str], required: bool = True) -> list[FieldError]:
    if value in (None, ""):
        return [FieldError.required(path, "")] if required else []
    if value not in supported:
        return [FieldError.not_supported(path, value, supported)]
    return []


def dns_label_errors(name: Any, path: str) -> list[FieldError]:
    return [FieldError.invalid(path, name, m) for m in is_dns1123_label(str(name))]
