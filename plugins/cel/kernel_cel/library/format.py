"""kube's format library (library/format.go): ``format.<name>()``, ``format.named(name)`` and
``<Format>.validate(s)``.

kube returns optionals; cel-expr-python cannot build one in a Python function, so ``validate``
returns the list of errors and ``format.named`` the Format (empty when unknown), and the
expression is rewritten to wrap those calls in ``optional.ofNonZeroValue`` (see rewrite.py)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from typing import Any, Callable

from kernel.apimachinery import commonvalidation, validation

from .. import opaque
from ..decls import fn, glob, member
from .urls import request_uri_error

F = "kubernetes.NamedFormat"
_UUID = re.compile(r"(?i)^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?$")


def _check(ok: bool, message: str) -> list[str]:
    return [] if ok else [message]


def _base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text))


def _uri(text: str) -> list[str]:
    error = request_uri_error(text)
    return [error] if error else []


def _dns1035(text: str, prefix: bool) -> list[str]:
    return commonvalidation.is_dns1035_label(validation.mask_trailing_dash(text) if prefix else text)


FORMATS: dict[str, Callable[[str], list[str]]] = {
    "dns1123Label": lambda s: validation.name_is_dns_label(s, False),
    "dns1123Subdomain": lambda s: validation.name_is_dns_subdomain(s, False),
    "dns1035Label": lambda s: _dns1035(s, False),
    "qualifiedName": validation.is_qualified_name,
    "dns1123LabelPrefix": lambda s: validation.name_is_dns_label(s, True),
    "dns1123SubdomainPrefix": lambda s: validation.name_is_dns_subdomain(s, True),
    "dns1035LabelPrefix": lambda s: _dns1035(s, True),
    "labelValue": validation.is_label_value,
    "uri": _uri,
    "uuid": lambda s: _check(bool(_UUID.match(s)), "does not match the UUID format"),
    "byte": lambda s: _check(_base64(s), "invalid base64"),
    "date": lambda s: _check(_date(s), "invalid date"),
    "datetime": lambda s: _check(bool(_DATETIME.match(s)), "invalid datetime"),
}


def _named(name: str) -> Any:
    return opaque.new(F, name=name if name in FORMATS else "")


def _validate(named: Any, text: str) -> list[str]:
    return FORMATS[named.name](text)


FUNCTIONS = [
    *(fn(f"format.{name}", glob(f"format.{name}", "", F, lambda n=name: opaque.new(F, name=n)))
      for name in FORMATS),
    fn("format.named", glob("format-named", "string", F, _named)),
    fn("validate", member("format-validate", f"{F}, string", "list(string)", _validate)),
]
