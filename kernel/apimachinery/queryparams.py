"""Query parameter values read as kube's parameter codec reads them (runtime.Convert_Slice_string_To_*).

Integers are Go's strconv.ParseInt(s, 10, 64): an optional sign and ASCII digits, nothing else
(no spaces, no ``_``, no ``0x``), within int64; a failure is a 400 with strconv's own text, as
kube answers it. Booleans are lenient: only "0" and "false" (any case) are false, anything else
(even "maybe" or "") is true.
"""

from __future__ import annotations

import re

from kernel.apimachinery import status
from kernel.apimachinery.validation import go_quote

_INT = re.compile(r"[+-]?[0-9]+")
_UINT = re.compile(r"[0-9]+")
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


def parse_int64(text: str) -> int:
    """strconv.ParseInt(text, 10, 64); ValueError with strconv's message."""
    if not _INT.fullmatch(text):
        raise ValueError(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax")
    value = int(text) if len(text) <= 21 else _INT64_MAX + 1  # no 4300-digit conversions
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"strconv.ParseInt: parsing {go_quote(text)}: value out of range")
    return value


def parse_uint64(text: str) -> int:
    """strconv.ParseUint(text, 10, 64); ValueError with strconv's message."""
    if not _UINT.fullmatch(text):
        raise ValueError(f"strconv.ParseUint: parsing {go_quote(text)}: invalid syntax")
    value = int(text) if len(text) <= 21 else _UINT64_MAX + 1
    if value > _UINT64_MAX:
        raise ValueError(f"strconv.ParseUint: parsing {go_quote(text)}: value out of range")
    return value


def int_param(query: dict[str, list[str]], name: str) -> int | None:
    """An int64 parameter (limit, timeoutSeconds, gracePeriodSeconds); None when absent."""
    values = query.get(name)
    if not values:
        return None
    try:
        return parse_int64(values[0])
    except ValueError as error:
        raise status.bad_request(str(error)) from None


def bool_param(query: dict[str, list[str]], name: str) -> bool | None:
    """A bool parameter (watch, allowWatchBookmarks, sendInitialEvents); None when absent."""
    values = query.get(name)
    if not values:
        return None
    return values[0].lower() not in ("0", "false")
