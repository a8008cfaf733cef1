"""kube's quantity library (k8s.io/apiserver/pkg/cel/library/quantity.go) over resource.Quantity's
grammar. A Quantity is stored as its exact rational value so equal amounts compare equal
(``quantity("200M") == quantity("0.2G")``), as kube's Quantity.Equal does."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from .. import opaque
from ..decls import fn, glob, member
from . import semver

Q = "kubernetes.Quantity"
_FORMAT = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_EXPONENT = re.compile(r"^[eE][-+]?[0-9]+$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
ERR_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_INT64 = (-(1 << 63), (1 << 63) - 1)


def parse(text: str) -> Fraction:
    """The exact amount; ValueError with resource.ParseQuantity's message."""
    match = _FORMAT.match(text)
    if not match:
        raise ValueError(ERR_FORMAT)
    number, suffix = match.groups()
    if not _NUMBER.match(number):
        raise ValueError("unable to parse numeric part of quantity")
    amount = Fraction(number)
    if suffix in _BINARY:
        return amount * (1 << _BINARY[suffix])
    if suffix in _DECIMAL:
        return amount * Fraction(10) ** _DECIMAL[suffix]
    if _EXPONENT.match(suffix):
        return amount * Fraction(10) ** int(suffix[1:])
    raise ValueError("unable to parse quantity's suffix")


def make(amount: Fraction) -> Any:
    return opaque.new(Q, value=f"{amount.numerator}/{amount.denominator}")


def value(quantity: Any) -> Fraction:
    return Fraction(quantity.value)


def _is_integer(amount: Fraction) -> bool:
    return amount.denominator == 1 and _INT64[0] <= amount.numerator <= _INT64[1]


def _as_integer(quantity: Any) -> int:
    amount = value(quantity)
    if not _is_integer(amount):
        raise ValueError("cannot convert value to integer")
    return amount.numerator


def _is_quantity(text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _compare(a: Any, b: Any) -> int:
    """Quantities, and Semvers: cel-cpp dispatches on kinds, both are messages (see decls)."""
    if opaque.type_name(a) == semver.S:
        return semver.compare(a, b)
    x, y = value(a), value(b)
    return (x > y) - (x < y)


def _sign(quantity: Any) -> int:
    amount = value(quantity)
    return (amount > 0) - (amount < 0)


FUNCTIONS = [
    fn("quantity", glob("string_to_quantity", "string", Q, lambda s: make(parse(s)))),
    fn("isQuantity", glob("is_quantity_string", "string", "bool", _is_quantity)),
    fn("sign", member("quantity_sign", Q, "int", _sign)),
    fn("isGreaterThan", member("quantity_is_greater_than", f"{Q}, {Q}", "bool",
                               lambda a, b: _compare(a, b) == 1)),
    fn("isLessThan", member("quantity_is_less_than", f"{Q}, {Q}", "bool", lambda a, b: _compare(a, b) == -1)),
    fn("compareTo", member("quantity_compare_to", f"{Q}, {Q}", "int", _compare)),
    fn("asApproximateFloat", member("quantity_get_float", Q, "double", lambda q: float(value(q)))),
    fn("asInteger", member("quantity_get_int", Q, "int", _as_integer)),
    fn("isInteger", member("quantity_is_integer", Q, "bool", lambda q: _is_integer(value(q)))),
    fn("add", member("quantity_add", f"{Q}, {Q}", Q, lambda a, b: make(value(a) + value(b))),
       member("quantity_add_int", f"{Q}, int", Q, lambda a, b: make(value(a) + b))),
    fn("sub", member("quantity_sub", f"{Q}, {Q}", Q, lambda a, b: make(value(a) - value(b))),
       member("quantity_sub_int", f"{Q}, int", Q, lambda a, b: make(value(a) - b))),
]
