"""Which CEL libraries each consumer's environment has (kube's environment/base.go)."""

from __future__ import annotations

from typing import Any

from cel_expr_python.ext import ext_bindings, ext_optional, ext_strings

LIBRARIES = ("crd", "admission", "authz")


def extensions(library: str) -> list[Any]:
    """cel-cpp's extensions kube's base environment also has: strings, optional types, cel.bind."""
    return [ext_strings.ExtStrings(), ext_optional.ExtOptional(), ext_bindings.ExtBindings()]


def functions(library: str) -> list[Any]:
    """kube's own libraries (quantity, url, ip, cidr, format, lists, regex, authz)."""
    return []
