"""kube's RBAC authorizer (plugin/pkg/auth/authorizer/rbac/rbac.go) over api_rbac's rule resolver.

Allow when a rule bound to the user allows the request, with the reason naming the binding
(``RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "alice"``); NoOpinion
otherwise, with the resolution errors as the reason (a binding to a missing role) or none.
"""

from __future__ import annotations

from typing import Any

from kernel.authentication.user import UserInfo
from kernel.authorization import (Attributes, Decision, NonResourceRule, ResourceRule, Rules,
                                  RuleResolver as KernelRuleResolver)

from kernel_api_rbac.rules import rule_allows
from kernel_api_rbac.ruleresolver import BindingSource, RuleResolver, aggregate_errors


class RBACAuthorizer(KernelRuleResolver):
    def __init__(self, resolver: RuleResolver) -> None:
        self.resolver = resolver

    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        reason = ""
        errors: list[str] = []

        def visit(source: BindingSource | None, rule: Any, error: str | None) -> bool:
            nonlocal reason
            if rule is not None and rule_allows(attributes, rule):
                reason = f"RBAC: allowed by {source}"
                return False
            if error:
                errors.append(error)
            return True

        self.resolver.visit_rules_for(attributes.user, attributes.namespace, visit)
        if reason:
            return Decision.ALLOW, reason
        return Decision.NO_OPINION, f"RBAC: {aggregate_errors(errors)}" if errors else ""

    async def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """kube's RBACAuthorizer.RulesFor: resource and non-resource rules, errors as evaluationError."""
        rules, errors = self.resolver.rules_for(user, namespace)
        resource, non_resource = [], []
        for rule in rules:
            if rule.get("resources"):
                resource.append(ResourceRule(tuple(rule.get("verbs") or ()),
                                             tuple(rule.get("apiGroups") or ()),
                                             tuple(rule.get("resources") or ()),
                                             tuple(rule.get("resourceNames") or ())))
            if rule.get("nonResourceURLs"):
                non_resource.append(NonResourceRule(tuple(rule.get("verbs") or ()),
                                                    tuple(rule.get("nonResourceURLs") or ())))
        return Rules(tuple(resource), tuple(non_resource), False,
                     aggregate_errors(errors) if errors else "")
