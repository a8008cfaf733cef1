"""Authorization: may this user do this (k8s.io/apiserver/pkg/authorization)."""

from __future__ import annotations

import enum
from typing import Protocol

import msgspec

from kernel.apimachinery.selectors import SelectorError, parse_field_selector
from kernel.authentication.user import UserInfo


class Decision(enum.Enum):
    DENY = 0
    ALLOW = 1
    NO_OPINION = 2


class Attributes(msgspec.Struct, frozen=True):
    """authorizer.Attributes of one request."""

    user: UserInfo
    verb: str
    resource_request: bool
    path: str = ""
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    # The raw fieldSelector and labelSelector of a list, watch or deletecollection.
    field_selector: str = ""
    label_selector: str = ""

    def field_selector_requires(self, field: str) -> str | None:
        """The value an equality term of the field selector requires of ``field`` (kube's
        GetFieldSelector requirements with ``=``/``==``); None when none does or it does not parse."""
        if not self.field_selector:
            return None
        try:
            return parse_field_selector(self.field_selector).requires_exact_match(field)
        except SelectorError:
            return None


class Authorizer(Protocol):
    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        """Return a decision and a reason (shown in the 403 message when denied), or raise
        :class:`AuthorizationError` when the mode could not decide (a webhook that is down)."""


class AuthorizationError(Exception):
    """A mode failed to decide (kube's authorizer error). ``decision`` is what its failure policy
    says meanwhile (NoOpinion lets the next mode decide; Deny ends the chain); a request that no
    mode then allows is a 500 InternalError, as kube answers, and a review reports the error as
    ``status.evaluationError``."""

    def __init__(self, message: str, decision: Decision = Decision.NO_OPINION, reason: str = "") -> None:
        super().__init__(message)
        self.decision = decision
        self.reason = reason


class ResourceRule(msgspec.Struct, frozen=True):
    """authorization/v1 ResourceRule: what a user may do to resources (SelfSubjectRulesReview)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()


class NonResourceRule(msgspec.Struct, frozen=True):
    """authorization/v1 NonResourceRule: what a user may do to non-resource URLs."""

    verbs: tuple[str, ...]
    non_resource_urls: tuple[str, ...] = ()


class Rules(msgspec.Struct, frozen=True):
    """authorizer.RuleResolver's answer: the rules a user has in a namespace; ``incomplete`` when
    some mode cannot list its rules (a webhook) or failed to, with the failure in ``error``."""

    resource_rules: tuple[ResourceRule, ...] = ()
    non_resource_rules: tuple[NonResourceRule, ...] = ()
    incomplete: bool = False
    error: str = ""


class RuleResolver(Protocol):
    """Implemented by authorizers that can enumerate a user's rules (``kubectl auth can-i --list``).

    A mode without ``rules_for`` makes the chain's answer incomplete."""

    async def rules_for(self, user: UserInfo, namespace: str) -> Rules: ...


ALL_RULES = Rules((ResourceRule(("*",), ("*",), ("*",)),), (NonResourceRule(("*",), ("*",)),))


def forbidden_message(attributes: Attributes, reason: str) -> str:
    """The message of kube's 403 Status for these attributes."""
    user = attributes.user.name
    if not attributes.resource_request:
        message = f'forbidden: User "{user}" cannot {attributes.verb} path "{attributes.path}"'
    else:
        resource = attributes.resource
        if attributes.subresource:
            resource += "/" + attributes.subresource
        if attributes.namespace:
            scope = f'in the namespace "{attributes.namespace}"'
        else:
            scope = "at the cluster scope"
        detail = (f'User "{user}" cannot {attributes.verb} resource "{resource}" in API group '
                  f'"{attributes.api_group}" {scope}')
        qualified = attributes.resource + (f".{attributes.api_group}" if attributes.api_group else "")
        if attributes.name:
            message = f'{qualified} "{attributes.name}" is forbidden: {detail}'
        else:
            message = f"{qualified} is forbidden: {detail}"
    return f"{message}: {reason}" if reason else message


class AuthorizerChain:
    """kube's union authorizer: the first Allow or Deny decides, NoOpinion passes on.

    Members of system:masters are allowed before any mode is asked (kube's privileged group).
    """

    def __init__(self, authorizers: list[tuple[str, Authorizer]], privileged_group: str) -> None:
        self.authorizers = authorizers
        self.privileged_group = privileged_group

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.authorizers]

    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        """The decision and the reasons; raises :class:`AuthorizationError` when the decision is
        not Allow and a mode failed on the way (kube's union authorizer returns the error then)."""
        if self.privileged_group in attributes.user.groups:
            return Decision.ALLOW, ""
        reasons: list[str] = []
        errors: list[str] = []
        for _, authorizer in self.authorizers:
            failed = None
            try:
                decision, reason = await authorizer.authorize(attributes)
            except AuthorizationError as error:
                failed, decision, reason = error, error.decision, error.reason
                errors.append(str(error))
            if reason:
                reasons.append(reason)
            if decision is Decision.ALLOW:
                return decision, reason
            if decision is Decision.DENY:
                if failed is not None:
                    raise AuthorizationError(str(failed), Decision.DENY, reason)
                return decision, reason
        if errors:
            raise AuthorizationError(", ".join(errors), Decision.NO_OPINION, "\n".join(reasons))
        return Decision.NO_OPINION, "\n".join(reasons)

    async def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """kube's union RuleResolver: every mode's rules together; incomplete if any mode cannot
        say (has no ``rules_for``) or failed."""
        if self.privileged_group in user.groups:
            return ALL_RULES
        resource: list[ResourceRule] = []
        non_resource: list[NonResourceRule] = []
        incomplete = False
        errors: list[str] = []
        for _, authorizer in self.authorizers:
            rules_for = getattr(authorizer, "rules_for", None)
            if rules_for is None:
                incomplete = True
                continue
            rules: Rules = await rules_for(user, namespace)
            resource += rules.resource_rules
            non_resource += rules.non_resource_rules
            incomplete = incomplete or rules.incomplete
            if rules.error:
                errors.append(rules.error)
        return Rules(tuple(resource), tuple(non_resource), incomplete, ", ".join(errors))
