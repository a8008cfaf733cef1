"""Does an RBAC PolicyRule cover a request (kube's rbac/v1 helpers: VerbMatches, ResourceMatches, ...).

Rules are the API's own dicts (``{"verbs": [...], "apiGroups": [...], ...}``), as stored, so the
authorizer indexes objects straight from its informers without converting them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kernel.authorization import Attributes

ALL = "*"
Rule = Mapping[str, Any]


def verb_matches(rule: Rule, verb: str) -> bool:
    verbs = rule.get("verbs") or ()
    return ALL in verbs or verb in verbs


def api_group_matches(rule: Rule, group: str) -> bool:
    groups = rule.get("apiGroups") or ()
    return ALL in groups or group in groups


def resource_matches(rule: Rule, resource: str, subresource: str) -> bool:
    """``pods``, ``pods/status`` (the combined name), ``*``, or ``*/status`` for any subresource."""
    combined = f"{resource}/{subresource}" if subresource else resource
    for candidate in rule.get("resources") or ():
        if candidate == ALL or candidate == combined:
            return True
        if subresource and candidate == "*/" + subresource:
            return True
    return False


def resource_name_matches(rule: Rule, name: str) -> bool:
    """No resourceNames allows every name; otherwise the request must name one of them (so a
    rule with resourceNames never allows list, create or deletecollection)."""
    names = rule.get("resourceNames") or ()
    return not names or name in names


def non_resource_url_matches(rule: Rule, path: str) -> bool:
    """An exact URL, ``*``, or a prefix ending in ``*`` (``/healthz/*``)."""
    for url in rule.get("nonResourceURLs") or ():
        if url == ALL or url == path:
            return True
        if url.endswith("*") and path.startswith(url[:-1]):
            return True
    return False


def rule_allows(attributes: Attributes, rule: Rule) -> bool:
    if not verb_matches(rule, attributes.verb):
        return False
    if attributes.resource_request:
        return (api_group_matches(rule, attributes.api_group)
                and resource_matches(rule, attributes.resource, attributes.subresource)
                and resource_name_matches(rule, attributes.name))
    return non_resource_url_matches(rule, attributes.path)


def rules_allow(attributes: Attributes, rules: Iterable[Rule]) -> bool:
    return any(rule_allows(attributes, rule) for rule in rules)


def rule(verbs: Sequence[str], *, groups: Sequence[str] = (), resources: Sequence[str] = (),
         names: Sequence[str] = (), urls: Sequence[str] = ()) -> dict[str, Any]:
    """A PolicyRule dict as the API writes it (empty lists left out)."""
    out: dict[str, Any] = {"verbs": list(verbs)}
    if groups or resources:
        out["apiGroups"] = list(groups)
        out["resources"] = list(resources)
    if names:
        out["resourceNames"] = list(names)
    if urls:
        out["nonResourceURLs"] = list(urls)
    return out
