"""Validation rules many API types share, with kube's field paths and messages.

metav1 label selectors (apimachinery's ValidateLabelSelector), int-or-percent values (apps'
ValidatePositiveIntOrPercent / IsNotMoreThan100Percent, used by PDBs and rolling updates) and
non-negative numbers, DNS-1035 labels, wildcard subdomains, port names and numbers; plus metav1.FormatLabelSelector, the text kubectl's tables show.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from kernel.apimachinery.lazyre import lazy_compile
from kernel.apimachinery.selectors import SelectorError, label_selector_from_dict
from kernel.apimachinery.validation import (DNS1123_SUBDOMAIN_FMT, FieldError, is_label_value, is_qualified_name,
                                            max_len_error, regex_error, validate_labels)

NEGATIVE = "must be greater than or equal to 0"
_PERCENT_FMT = "[0-9]+%"
_PERCENT_RE = lazy_compile(f"^{_PERCENT_FMT}$")
_PERCENT_MSG = regex_error("a valid percent string must be a numeric string followed by an ending '%'",
                           _PERCENT_FMT, "1%", "93%")


def nonnegative(value: Any, path: str) -> list[FieldError]:
    """ValidateNonnegativeField."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return [FieldError.invalid(path, value, NEGATIVE)]
    return []


def validate_label_selector(selector: Mapping[str, Any] | None, path: str, *,
                            allow_invalid_label_values: bool = False) -> list[FieldError]:
    """metav1 validation.ValidateLabelSelector (unknown operators are refused)."""
    if not selector:
        return []
    errs = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        at = f"{path}.matchExpressions[{i}]"
        operator, values = expr.get("operator") or "", expr.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                errs.append(FieldError.required(f"{at}.values",
                                                "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errs.append(FieldError.forbidden(
                    f"{at}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(FieldError.invalid(f"{at}.operator", operator, "not a valid selector operator"))
        key = expr.get("key") or ""
        errs += [FieldError.invalid(f"{at}.key", key, m) for m in is_qualified_name(key)]
        if not allow_invalid_label_values:
            for j, value in enumerate(values):
                errs += [FieldError.invalid(f"{at}.values[{j}]", value, m) for m in is_label_value(value)]
    return errs


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: ``app=a,tier in (x,y)``; ``<none>`` for a null or empty one."""
    try:
        text = str(label_selector_from_dict(selector))
    except SelectorError:
        return "<error>"
    return text or "<none>"


def percent(value: Any) -> int | None:
    """The number of a valid percent string (``"25%"`` → 25); None for anything else."""
    if isinstance(value, str) and _PERCENT_RE.match(value):
        return int(value[:-1])
    return None


def positive_int_or_percent(value: Any, path: str) -> list[FieldError]:
    """ValidatePositiveIntOrPercent and IsNotMoreThan100Percent together."""
    if isinstance(value, str):
        if percent(value) is None:
            return [FieldError.invalid(path, value, _PERCENT_MSG)]
        if percent(value) > 100:  # type: ignore[operator]
            return [FieldError.invalid(path, value, "must not be greater than 100%")]
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return nonnegative(value, path)
    return [FieldError.invalid(path, value, "must be an integer or percentage (e.g '5%')")]


# --- names and ports (k8s.io/apimachinery/pkg/util/validation) ------------------------------

_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_RE = lazy_compile(f"^{_DNS1035_FMT}$")
_DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character")
_WILDCARD_FMT = r"\*\." + DNS1123_SUBDOMAIN_FMT
_WILDCARD_RE = lazy_compile(f"^{_WILDCARD_FMT}$")
_WILDCARD_MSG = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
                 "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
                 "character")
_PORT_NAME_RE = lazy_compile("^[-a-z0-9]+$")


def is_dns1035_label(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _DNS1035_RE.match(value):
        errs.append(regex_error(_DNS1035_MSG, _DNS1035_FMT, "my-name", "abc-123"))
    return errs


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs = [max_len_error(253)] if len(value) > 253 else []
    if not _WILDCARD_RE.match(value):
        errs.append(regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com"))
    return errs


def is_valid_port_num(port: Any) -> list[str]:
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return []
    return ["must be between 1 and 65535, inclusive"]


def is_valid_port_name(port: str) -> list[str]:
    errs = [max_len_error(15)] if len(port) > 15 else []
    if not _PORT_NAME_RE.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
