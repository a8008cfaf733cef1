"""A binding's params (kube's policy/generic ``CollectParams``): the objects its ``paramRef``
names or selects, read from the informer of the policy's ``paramKind``, with kube's errors for a
missing or misconfigured reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


import msgspec

from kernel.apimachinery.selectors import LabelSelector, SelectorError


class ConfigurationError(Exception):
    """A policy or binding that cannot be applied; its failure policy decides."""


class Lister(Protocol):
    def get(self, name: str, namespace: str = "") -> Any: ...

    def list(self, namespace: str | None = None) -> list[Any]: ...

    @property
    def has_synced(self) -> bool: ...


class ParamSource(msgspec.Struct, frozen=True):
    """Where a policy's paramKind lives: its informer and whether it is namespaced."""

    kind: str  # the paramKind as kube prints it in errors
    lister: Lister | None
    namespaced: bool


def collect_params(source: ParamSource | None, param_ref: Mapping[str, Any] | None,
                   namespace: str) -> Sequence[Any]:
    """The params to evaluate with: ``[None]`` without paramKind or paramRef; the named or
    selected objects; ConfigurationError with kube's text otherwise."""
    if source is None or param_ref is None:
        return [None]
    lister = source.lister
    if lister is None:
        raise ConfigurationError(f"paramKind kind `{source.kind}` not known")
    ref_namespace = param_ref.get("namespace") or ""
    scope = ""
    if source.namespaced:
        scope = ref_namespace or namespace
        if not scope:
            raise ConfigurationError("cannot use namespaced paramRef in policy binding that "
                                     "matches cluster-scoped resources")
    if not lister.has_synced:
        raise ConfigurationError(f"paramKind kind `{source.kind}` not yet synced to use for admission")
    if ref_namespace and not source.namespaced:
        raise ConfigurationError("paramRef.namespace must not be provided for a cluster-scoped "
                                 "`paramKind`")
    name, selector = param_ref.get("name") or "", param_ref.get("selector")
    if name:
        if selector is not None:
            raise ConfigurationError("paramRef.name and paramRef.selector are mutually exclusive")
        found = lister.get(name, scope)
        params = [found] if found is not None else []
    elif selector is not None:
        try:
            parsed = LabelSelector.from_dict(selector)
        except (SelectorError, ValueError) as error:
            raise ConfigurationError(str(error)) from None
        params = [obj for obj in lister.list(scope if source.namespaced else None)
                  if parsed.matches((obj.get("metadata") or {}).get("labels") or {})]
    else:
        raise ConfigurationError("one of name or selector must be provided")
    if not params and param_ref.get("parameterNotFoundAction") == "Deny":
        raise ConfigurationError("no params found for policy binding with `Deny` "
                                 "parameterNotFoundAction")
    return params
