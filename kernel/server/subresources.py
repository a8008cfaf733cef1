"""Subresources a plugin adds to a resource another plugin serves (``kernel_subresources``).

kube's apiserver wires ``serviceaccounts/token`` into the core group's REST storage map from the
token issuer's configuration; here the plugin that issues tokens is not the one serving
ServiceAccounts, so the kernel merges the contributed :class:`CustomSubresource` objects into
the served ``ResourceSpec`` before the group is installed (discovery, OpenAPI, authorization and
admission then treat them as the resource's own).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from kernel.endpoints.apigroup import APIGroup

if TYPE_CHECKING:
    from kernel.registry.subresources import CustomSubresource

#: ``{(group, resource): {subresource: CustomSubresource}}``
Subresources = dict[tuple[str, str], dict[str, "CustomSubresource"]]


class SubresourceError(ValueError):
    """A contributed subresource that cannot be attached (the server chain reports it as a
    PluginError: this module may not import kernel.plugins, which imports the context)."""


def parse_key(key: str) -> tuple[str, str, str]:
    """``serviceaccounts/token`` → ("", "serviceaccounts", "token");
    ``deployments.apps/x`` → ("apps", "deployments", "x")."""
    resource, sep, subresource = key.partition("/")
    if not sep or not resource or not subresource or "/" in subresource:
        raise SubresourceError(f"kernel_subresources: {key!r} is not <resource>[.<group>]/<subresource>")
    plural, _, group = resource.partition(".")
    return group, plural, subresource


def attach(group: APIGroup, subresources: Mapping[tuple[str, str], Mapping[str, Any]]) -> APIGroup:
    """``group`` with the contributed subresources merged into its resources' specs."""
    if not subresources:
        return group
    specs, changed = [], False
    for spec in group.resources:
        extra = subresources.get((spec.group, spec.plural))
        if extra:
            clash = sorted(set(extra) & (set(spec.subresources) | set(spec.custom_subresources)))
            if clash:
                raise SubresourceError(f"kernel_subresources: {spec.group_resource} already has the "
                                  f"subresource {', '.join(clash)}")
            spec = msgspec.structs.replace(spec, custom_subresources={**spec.custom_subresources, **extra})
            changed = True
        specs.append(spec)
    return msgspec.structs.replace(group, resources=tuple(specs)) if changed else group


def unattached(subresources: Subresources, groups: Mapping[str, APIGroup]) -> list[str]:
    """Contributed subresources of resources no installed group serves."""
    served = {(spec.group, spec.plural) for group in groups.values() for spec in group.resources}
    return [f"{plural}.{group}/{name}" if group else f"{plural}/{name}"
            for (group, plural), names in subresources.items() if (group, plural) not in served
            for name in names]
