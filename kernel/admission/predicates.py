"""Which admission requests a webhook or a policy applies to (k8s.io/apiserver's
admission/plugin/webhook/predicates and policy/matching).

Pure logic over :class:`kernel.admission.Attributes`; what it needs from the server comes in as
callables: the labels of a namespace by name (an informer's lookup) and the resources equivalent
to a requested one (for ``matchPolicy: Equivalent``). The configurations are kube's v1 JSON shapes
(``rules``/``namespaceSelector``/``objectSelector``/``matchPolicy`` of a webhook, a policy's
``matchConstraints`` or a binding's ``matchResources``):

    matcher = Matcher(namespace_labels, equivalents)
    match = matcher.webhook(MatchCriteria.for_webhook(webhook), attributes)   # Match or None
    match = matcher.policy(MatchCriteria.for_resources(match_resources), attributes)

A :class:`Match` names the resource and kind the request matched as (an equivalent one when only
that matched); the webhook or policy sees the object in that version. Errors are ``StatusError``:
an unparsable selector is an internal error, a namespace that does not exist a 404, as in kube.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from kernel.admission import Attributes, GroupVersionKind, GroupVersionResource
from kernel.apimachinery import status
from kernel.apimachinery.selectors import LabelSelector, SelectorError

#: ``namespace_labels(name)``: the labels of namespace ``name``, or None when it does not exist.
NamespaceLabels = Callable[[str], Mapping[str, str] | None]
#: ``equivalents(resource, subresource)``: every (resource, kind) serving the same objects as
#: ``resource`` (other versions, other groups), the requested one included or not.
Equivalents = Callable[[GroupVersionResource, str], Sequence[tuple[GroupVersionResource, GroupVersionKind]]]

NAMESPACES = GroupVersionResource("", "v1", "namespaces")
_EVERYTHING = LabelSelector.everything()


class Match(msgspec.Struct, frozen=True):
    """The resource (and subresource) and kind a request matched as."""

    resource: GroupVersionResource
    kind: GroupVersionKind
    subresource: str = ""


def _selector(value: Mapping[str, Any] | None) -> LabelSelector | str:
    """A webhook's selector; kube defaults an absent one to ``{}`` (everything). The parse
    error's text when it does not parse (reported when a request is matched, as kube does)."""
    if value is None:
        return _EVERYTHING
    try:
        return LabelSelector.from_dict(value)
    except (SelectorError, ValueError) as error:
        return str(error)


class MatchCriteria(msgspec.Struct, frozen=True):
    """One webhook's, policy's or binding's matching fields, parsed once."""

    rules: tuple[Mapping[str, Any], ...] = ()
    exclude_rules: tuple[Mapping[str, Any], ...] = ()
    namespace_selector: LabelSelector | str = _EVERYTHING
    object_selector: LabelSelector | str = _EVERYTHING
    match_policy: str = "Equivalent"
    #: the policy form: no resourceRules matches every resource (a webhook without rules matches none)
    empty_rules_match_all: bool = False

    @classmethod
    def for_webhook(cls, webhook: Mapping[str, Any]) -> MatchCriteria:
        """A MutatingWebhook's or ValidatingWebhook's ``rules``, selectors and ``matchPolicy``."""
        return cls(tuple(webhook.get("rules") or ()), (),
                   _selector(webhook.get("namespaceSelector")),
                   _selector(webhook.get("objectSelector")),
                   webhook.get("matchPolicy") or "Equivalent")

    @classmethod
    def for_resources(cls, match_resources: Mapping[str, Any] | None) -> MatchCriteria:
        """A policy's ``matchConstraints`` or a binding's ``matchResources`` (MatchResources):
        ``resourceRules`` (with ``resourceNames``), ``excludeResourceRules``, the selectors and
        ``matchPolicy``."""
        spec = match_resources or {}
        return cls(tuple(spec.get("resourceRules") or ()), tuple(spec.get("excludeResourceRules") or ()),
                   _selector(spec.get("namespaceSelector")), _selector(spec.get("objectSelector")),
                   spec.get("matchPolicy") or "Equivalent", empty_rules_match_all=True)


# -- rules (predicates/rules) ------------------------------------------------------------------


def _exact_or_wildcard(items: Sequence[str] | None, requested: str) -> bool:
    return any(item == "*" or item == requested for item in items or ())


def _scope(rule: Mapping[str, Any], attributes: Attributes, resource: GroupVersionResource) -> bool:
    scope = rule.get("scope") or "*"
    if scope == "*":
        return True
    # A Namespace is cluster-scoped, though its requests carry its own name as their namespace.
    if scope == "Namespaced":
        return resource != NAMESPACES and bool(attributes.namespace)
    if scope == "Cluster":
        return resource == NAMESPACES or not attributes.namespace
    return False


def _resource(rule: Mapping[str, Any], resource: str, subresource: str) -> bool:
    for item in rule.get("resources") or ():
        name, _, sub = item.partition("/")
        if (name == "*" or name == resource) and (sub == "*" or sub == subresource):
            return True
    return False


def rule_matches(rule: Mapping[str, Any], attributes: Attributes,
                 resource: GroupVersionResource | None = None) -> bool:
    """kube's rules.Matcher: a RuleWithOperations against the request (as ``resource``, an
    equivalent of the requested one, when given)."""
    resource = resource or attributes.resource
    return (_scope(rule, attributes, resource)
            and _exact_or_wildcard(rule.get("operations"), attributes.operation)
            and _exact_or_wildcard(rule.get("apiGroups"), resource.group)
            and _exact_or_wildcard(rule.get("apiVersions"), resource.version)
            and _resource(rule, resource.resource, attributes.subresource))


def _named_rule_matches(rule: Mapping[str, Any], attributes: Attributes) -> bool:
    names = rule.get("resourceNames") or ()
    return rule_matches(rule, attributes) and (not names or attributes.name in names)


# -- selectors (predicates/namespace, predicates/object) -----------------------------------------


def _parsed(selector: LabelSelector | str) -> LabelSelector:
    if isinstance(selector, str):
        raise status.internal_error(selector)
    return selector


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, str] | None:
    meta = (obj or {}).get("metadata")
    return (meta.get("labels") or {}) if isinstance(meta, dict) else None


def object_selector_matches(criteria: MatchCriteria, attributes: Attributes) -> bool:
    """kube's object matcher: the new or the old object's labels match ``objectSelector``."""
    selector = _parsed(criteria.object_selector)
    if selector.empty:
        return True
    return any(labels is not None and selector.matches(labels)
               for labels in (_labels(attributes.object), _labels(attributes.old_object)))


class Matcher:
    """Matches requests against :class:`MatchCriteria` (kube's webhook ``ShouldCallHook`` and the
    policy ``Matcher.Matches``)."""

    def __init__(self, namespace_labels: NamespaceLabels, equivalents: Equivalents | None = None) -> None:
        self._namespace_labels = namespace_labels
        self._equivalents = equivalents or (lambda resource, subresource: ())

    def namespace_selector_matches(self, criteria: MatchCriteria, attributes: Attributes) -> bool:
        """kube's namespace matcher: a cluster-scoped request (not a Namespace) always matches; a
        Namespace written is matched by its own new labels; any other by its namespace's."""
        if not attributes.namespace and attributes.resource.resource != "namespaces":
            return True
        selector = _parsed(criteria.namespace_selector)
        if selector.empty:
            return True
        return selector.matches(self._labels_of_namespace(attributes))

    def _labels_of_namespace(self, attributes: Attributes) -> Mapping[str, str]:
        if (attributes.resource.resource == "namespaces" and not attributes.subresource
                and attributes.operation in ("CREATE", "UPDATE")):
            return _labels(attributes.object) or {}
        labels = self._namespace_labels(attributes.namespace)
        if labels is None:
            raise status.not_found("", "namespaces", attributes.namespace)
        return labels

    def _selectors(self, criteria: MatchCriteria, attributes: Attributes
                   ) -> tuple[bool, status.StatusError | None]:
        """(may match, the selector error to report if the rules match): kube only reports a
        selector's error for a request the rules select."""
        for check in (self.namespace_selector_matches, object_selector_matches):
            try:
                if not check(criteria, attributes):
                    return False, None
            except status.StatusError as error:
                return True, error
        return True, None

    def _equivalent(self, rules: Sequence[Mapping[str, Any]], attributes: Attributes) -> Match | None:
        """The first rule that an equivalent resource matches (rules in order, then equivalents)."""
        equivalents = [pair for pair in self._equivalents(attributes.resource, attributes.subresource)
                       if pair[0] != attributes.resource]
        for rule in rules:
            for resource, kind in equivalents:
                if rule_matches(rule, attributes, resource):
                    return Match(resource, kind, attributes.subresource)
        return None

    def webhook(self, criteria: MatchCriteria, attributes: Attributes) -> Match | None:
        """The match of a MutatingWebhook/ValidatingWebhook, or None when it does not apply."""
        possible, error = self._selectors(criteria, attributes)
        if not possible:
            return None
        match = None
        if any(rule_matches(rule, attributes) for rule in criteria.rules):
            match = Match(attributes.resource, attributes.kind, attributes.subresource)
        elif criteria.match_policy == "Equivalent":
            match = self._equivalent(criteria.rules, attributes)
        if match is not None and error is not None:
            raise error
        return match

    def _resource_rules(self, rules: Sequence[Mapping[str, Any]], criteria: MatchCriteria,
                        attributes: Attributes) -> Match | None:
        if any(_named_rule_matches(rule, attributes) for rule in rules):
            return Match(attributes.resource, attributes.kind, attributes.subresource)
        if criteria.match_policy != "Equivalent":
            return None
        # as kube: equivalent resources are matched without the rules' resourceNames
        return self._equivalent(rules, attributes)

    def policy(self, criteria: MatchCriteria, attributes: Attributes) -> Match | None:
        """The match of a policy's matchConstraints or a binding's matchResources: the selectors,
        not any ``excludeResourceRules``, then ``resourceRules`` (none: every resource)."""
        possible, error = self._selectors(criteria, attributes)
        if not possible:
            return None
        if self._resource_rules(criteria.exclude_rules, criteria, attributes) is not None:
            return None
        if not criteria.rules and criteria.empty_rules_match_all:
            match = Match(attributes.resource, attributes.kind, attributes.subresource)
        else:
            match = self._resource_rules(criteria.rules, criteria, attributes)
        if match is not None and error is not None:
            raise error
        return match


def with_match(attributes: Attributes, match: Match) -> Attributes:
    """``attributes`` as the matched (equivalent) resource and kind: what the webhook is sent."""
    if match.resource == attributes.resource and match.kind == attributes.kind:
        return attributes
    return msgspec.structs.replace(attributes, resource=match.resource, kind=match.kind)
