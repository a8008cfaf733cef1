"""The policies and bindings in force (kube's policy/generic ``policySource``): read through
informers, grouped into :class:`PolicyHook`\\ s when something changed, each policy compiled once
per uid and generation, and the informer of each policy's paramKind found and started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any


import msgspec

from kernel.admission.predicates import MatchCriteria

from .compiler import CompiledPolicy, compile_policy
from .dispatcher import Binding, PolicyHook
from .params import Lister, ParamSource

GROUP = "admissionregistration.k8s.io"
POLICIES, BINDINGS = "validatingadmissionpolicies", "validatingadmissionpolicybindings"


class ParamResource(msgspec.Struct, frozen=True):
    """The served resource of a paramKind."""

    group: str
    resource: str
    namespaced: bool


#: ``find(group, version, kind)``: the served resource of that kind, or None.
FindResource = Callable[[str, str, str], ParamResource | None]
#: ``informer(group, resource)``: a lister of that resource (started on first use).
InformerFor = Callable[[str, str], Lister]


def param_kind_text(param_kind: Mapping[str, Any]) -> str:
    """A ParamKind as kube's generated String() prints it in errors."""
    return f"&ParamKind{{APIVersion:{param_kind.get('apiVersion', '')},Kind:{param_kind.get('kind', '')},}}"


def _gvk_text(group: str, version: str, kind: str) -> str:
    """schema.GroupVersionKind's String(): ``apps/v1, Kind=Deployment``."""
    return f"{group}/{version}, Kind={kind}" if group else f"/{version}, Kind={kind}"


class PolicySource:
    """The hooks to dispatch, recomputed only after a policy, binding or resource changed."""

    def __init__(self, find: FindResource, informer: InformerFor) -> None:
        self._find = find
        self._informer = informer
        self._compiled: dict[tuple[str, int], CompiledPolicy] = {}
        self._hooks: list[PolicyHook] = []
        self._dirty = True
        self._unresolved = False  # a paramKind not served yet: look again on every request

    def changed(self, *_: Any) -> None:
        """An informer event handler: recompute before the next request."""
        self._dirty = True

    def hooks(self, policies: Iterable[Mapping[str, Any]],
              bindings: Iterable[Mapping[str, Any]]) -> list[PolicyHook]:
        if self._dirty or self._unresolved:
            self._dirty = False
            self._hooks = self._calculate(policies, bindings)
        return self._hooks

    def _calculate(self, policies: Iterable[Mapping[str, Any]],
                   bindings: Iterable[Mapping[str, Any]]) -> list[PolicyHook]:
        by_policy: dict[str, list[Binding]] = {}
        for binding in bindings:
            spec = binding.get("spec") or {}
            match_resources = spec.get("matchResources")
            criteria = MatchCriteria.for_resources(match_resources) if match_resources else None
            by_policy.setdefault(spec.get("policyName") or "", []).append(Binding(binding, criteria))
        hooks, seen = [], set()
        self._unresolved = False
        for policy in sorted(policies, key=lambda p: p["metadata"]["name"]):
            policy_bindings = by_policy.get(policy["metadata"]["name"])
            if not policy_bindings:
                continue
            compiled = self._compile(policy)
            seen.add(_compile_key(policy))
            params, error = self._params(policy)
            spec = policy.get("spec") or {}
            hooks.append(PolicyHook(policy, compiled,
                                    MatchCriteria.for_resources(spec.get("matchConstraints") or {}),
                                    tuple(sorted(policy_bindings, key=lambda b: b.name)),
                                    params, error))
        self._compiled = {key: value for key, value in self._compiled.items() if key in seen}
        return hooks

    def _compile(self, policy: Mapping[str, Any]) -> CompiledPolicy:
        key = _compile_key(policy)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = compile_policy(policy)
        return compiled

    def _params(self, policy: Mapping[str, Any]) -> tuple[ParamSource | None, str]:
        param_kind = (policy.get("spec") or {}).get("paramKind")
        if not param_kind:
            return None, ""
        api_version = param_kind.get("apiVersion") or ""
        group, _, version = api_version.rpartition("/")
        if api_version.count("/") > 1:
            return None, (f"failed to parse paramKind APIVersion: unexpected GroupVersion string: "
                          f"{api_version}")
        kind = param_kind.get("kind") or ""
        found = self._find(group, version, kind)
        if found is None:
            self._unresolved = True
            return None, (f"failed to find resource referenced by paramKind: "
                          f"'{_gvk_text(group, version, kind)}'")
        return ParamSource(param_kind_text(param_kind), self._informer(found.group, found.resource),
                           found.namespaced), ""


def _compile_key(policy: Mapping[str, Any]) -> tuple[str, int]:
    meta = policy.get("metadata") or {}
    # uid + generation: a new policy under an old name, or a spec change, compiles again
    return meta.get("uid") or meta.get("name", ""), int(meta.get("generation") or 0)
