"""kube's call cost estimates for its libraries (k8s.io/apiserver/pkg/cel/library/cost.go),
as a function of the estimated sizes of the target and arguments."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..costmath import MAX, REGEX_LENGTH, STRING_TRAVERSAL as ST, Est, add, factor, fixed, mul

MAX_FORMAT_SIZE, MAX_NAME_FORMAT_REGEX_SIZE = 64, 128
_UNIT = {"serviceAccount", "path", "group", "resource", "subresource", "namespace", "name", "allowed",
         "reason", "error", "errored", "masked", "prefixLength", "family", "isUnspecified", "isLoopback",
         "isLinkLocalMulticast", "isLinkLocalUnicast", "isGlobalUnicast", "format.named", "sign", "asInteger",
         "isInteger", "asApproximateFloat", "isGreaterThan", "isLessThan", "compareTo", "add", "sub", "major",
         "minor", "patch", "getScheme", "getHostname", "getHost", "getPort", "getEscapedPath", "getQuery"}
_UNIT_EQUALITY = {"kubernetes.Quantity", "kubernetes.Semver", "net.IP", "net.CIDR",
                  *(f"kubernetes.authorization.{n}" for n in ("Authorizer", "PathCheck", "GroupCheck",
                                                            "ResourceCheck", "Decision"))}
Size = Callable[[Any], Est]  # a call node part -> its size estimate


def _selector(length: Est) -> Est:
    """A list of requirements (base 10), parsing, and a struct plus list per requirement."""
    requirements = factor(length, 0.5)
    return add(add(fixed(10), factor(length, ST)), factor(requirements, 10 + 40))


def _list_cost(size: Size, target: Any, element: Any) -> Est:
    element_cost = fixed(1)
    if element is not None and element[1] in ("string", "bytes"):
        element_cost = add(element_cost, factor(size(element[0]), ST))
    return mul(size(target), element_cost)


def _replace(size: Size, target: Any, args: list[Any]) -> tuple[Est, Est]:
    sz, old, new = size(target), size(args[0]), size(args[1])
    count_max = retained_max = count_min = retained_min = 0
    if old[0] == 0:
        count_max, retained_max = (sz[1] + 1 if sz[1] < MAX else sz[1]), sz[1]
    elif new[1] <= old[0]:
        retained_max = sz[1]
    else:
        count_max = math.ceil(sz[1] / old[0])
    if old[1] == 0:
        count_min, retained_min = (sz[0] + 1 if sz[0] < MAX else sz[0]), sz[0]
    elif old[1] <= new[0]:
        retained_min = sz[0]
    else:
        count_min = math.ceil(sz[0] / old[1])
    result = add(mul((count_min, count_max), new), (retained_min, retained_max))
    return factor(sz, 2 * ST), result


def _join(size: Size, target: Any, args: list[Any], element: Any) -> Est:
    count = size(target)
    result = mul(count, size(element[0])) if element is not None else (0, 0)
    if args:
        separators = (max(count[0] - 1, 0), max(count[1] - 1, 0))
        result = add(result, mul(size(args[0]), separators))
    return result


def estimate(function: str, overload: str, target: Any, args: list[Any], size: Size,
             element: Any, literal: Callable[[Any], Any]) -> tuple[Est, Est | None] | None:
    """(call cost, result size) or None when kube has no estimate for the call.

    ``element``: (node, kind) for the target list's elements; ``literal``: a node's constant."""
    if function == "check":
        return fixed(350000), None
    if function in _UNIT:
        return fixed(1), None
    if function in ("fieldSelector", "labelSelector") and len(args) == 1:
        return _selector(size(args[0])), None
    if function in ("isSorted", "sum", "max", "min", "indexOf", "lastIndexOf") and target is not None:
        if element is not None:
            return _list_cost(size, target, element), None
        return factor(size(target), ST), None
    if function in ("url", "jsonpatch.escapeKey") and len(args) == 1:
        sz = size(args[0])
        return factor(sz, ST), sz
    if function in ("lowerAscii", "upperAscii", "substring", "trim") and target is not None:
        sz = size(target)
        return factor(sz, ST), sz
    if function == "replace" and target is not None and len(args) >= 2:
        return _replace(size, target, args)
    if function == "split" and target is not None:
        sz = size(target)
        limit = literal(args[1]) if len(args) > 1 else None
        return factor(sz, 2 * ST), (0, limit if isinstance(limit, int) and limit >= 0 else sz[1])
    if function == "join" and target is not None:
        result = _join(size, target, args, element)
        return factor(result, ST), result
    return _estimate_more(function, overload, target, args, size)


def _estimate_more(function: str, overload: str, target: Any, args: list[Any], size: Size) -> tuple[Est, Est | None] | None:
    if function in ("find", "findAll") and target is not None and args:
        sz = size(target)
        return mul(factor(add(sz, fixed(1)), ST), factor(size(args[0]), REGEX_LENGTH)), (0, sz[1])
    if function in ("cidr", "isIP", "isCIDR", "quantity", "isQuantity", "semver", "isSemver") and args:
        return factor(size(args[0]), ST), None
    if function == "ip":
        if overload == "cidr_ip":
            return fixed(1), None
        return (factor(size(args[0]), ST), None) if args else None
    if function == "ip.isCanonical" and args:
        return factor(size(args[0]), 2 * ST), None
    ip_size = (4, 16)
    if function == "containsIP" and args:
        cost = factor(add(ip_size, ip_size), ST)
        if overload == "cidr_contains_ip_string":
            cost = add(cost, factor(size(args[0]), ST))
        return cost, None
    if function == "containsCIDR" and args:
        cost = add(add(factor(add(ip_size, ip_size), ST), factor(ip_size, ST)), fixed(1))
        if overload == "cidr_contains_cidr_string":
            cost = add(cost, factor(size(args[0]), ST))
        return cost, None
    if function == "validate" and args:
        return factor(factor(size(args[0]), ST), MAX_NAME_FORMAT_REGEX_SIZE * REGEX_LENGTH), None
    return None


def equality(left_type: Any, right_type: Any, right_size: Est | None) -> Est | None:
    """kube's ``_==_`` cost for its own types (O(1), or a bounded string compare)."""
    if left_type != right_type or left_type[0] not in ("struct", "opaque"):
        return None
    name = left_type[1]
    if name in _UNIT_EQUALITY:
        return fixed(1)
    if name == "kubernetes.NamedFormat":
        return factor((1, MAX_FORMAT_SIZE), ST)
    if name == "kubernetes.URL":
        return factor((1, right_size[1] if right_size else 1), ST)
    return None
