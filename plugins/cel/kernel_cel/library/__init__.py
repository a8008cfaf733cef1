"""kube's CEL libraries per consumer (k8s.io/apiserver/pkg/cel/environment/base.go).

kube's base environment is the same for CRD rules, admission (matchConditions, policies) and
the authorization webhook; what differs is the variables. cel-cpp's own extensions cover
optional types and ``cel.bind``; kube's libraries are Python functions declared here.
"""

from __future__ import annotations

import functools
from typing import Any

from cel_expr_python.ext import ext_bindings, ext_optional

from .. import decls
from . import authz, format, ip, lists, lists_ext, quantity, regex, semver, sets, strings, urls

LIBRARIES = ("crd", "admission", "authz")
_ALL = (*strings.FUNCTIONS, *lists.FUNCTIONS, *regex.FUNCTIONS, *urls.FUNCTIONS, *quantity.FUNCTIONS, *ip.FUNCTIONS,
        *format.FUNCTIONS, *sets.FUNCTIONS, *authz.FUNCTIONS, *semver.FUNCTIONS, *lists_ext.FUNCTIONS)


def extensions(library: str) -> list[Any]:
    """cel-cpp's extensions kube's base environment also has (fresh objects per env); the
    strings extension is ours (see strings.py)."""
    return [ext_optional.ExtOptional(), ext_bindings.ExtBindings()]


@functools.lru_cache(maxsize=None)
def config(library: str) -> tuple[Any, dict[str, Any]]:
    """The declarations and implementations of kube's libraries for ``library``."""
    return decls.config(_ALL)
