"""cel-go's cost arithmetic (checker/cost.go): (min, max) pairs of uint64 that saturate."""

from __future__ import annotations

import math

MAX = (1 << 64) - 1
Est = tuple[int, int]
UNKNOWN: Est = (0, MAX)
STRING_TRAVERSAL = 0.1  # common.StringTraversalCostFactor
REGEX_LENGTH = 0.25  # common.RegexStringLengthCostFactor


def add(a: Est, b: Est) -> Est:
    return (min(a[0] + b[0], MAX), min(a[1] + b[1], MAX))


def mul(a: Est, b: Est) -> Est:
    return (min(a[0] * b[0], MAX), min(a[1] * b[1], MAX))


def union(a: Est, b: Est) -> Est:
    return (min(a[0], b[0]), max(a[1], b[1]))


def _factor(x: int, y: float) -> int:
    if x > 0 and y > 0 and x > MAX / y:
        return MAX
    product = math.ceil(float(x) * y)
    return MAX if product >= 2.0 ** 64 else int(product)


def factor(a: Est, y: float) -> Est:
    return (_factor(a[0], y), _factor(a[1], y))


def fixed(n: int) -> Est:
    return (n, n)


def total(costs: list[Est]) -> Est:
    out: Est = (0, 0)
    for cost in costs:
        out = add(out, cost)
    return out
