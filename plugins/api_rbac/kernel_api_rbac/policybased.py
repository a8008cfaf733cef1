"""The escalation checks of kube's pkg/registry/rbac/*/policybased storages, as an admission plugin.

The kernel's generic registry has no per-resource hook that sees the requesting user, so the
check runs in validating admission (default-enabled, ``RBACEscalation``), on CREATE and UPDATE of
the four RBAC resources:

- Role / ClusterRole: allowed for system:masters, or with the ``escalate`` verb on the role, or
  when the user's own RBAC rules (in the role's namespace) cover every rule it grants; an
  ``aggregationRule`` needs cluster-admin's rules;
- RoleBinding / ClusterRoleBinding: allowed for system:masters, or with the ``bind`` verb on the
  referenced role, or when the user's own rules cover the referenced role's rules.

Updates that change only what the garbage collector changes (ownerReferences, finalizers) pass.
Refusals are kube's 403: ``roles.rbac.authorization.k8s.io "x" is forbidden: user "alice"
(groups=[...]) is attempting to grant RBAC permissions not currently held: ...``.
"""

from __future__ import annotations

from typing import Any

from kernel.admission import Attributes, Operation, ValidatingAdmission
from kernel.apimachinery import status
from kernel.authorization import Attributes as AuthorizationAttributes, AuthorizationError, Decision
from kernel.context import ServerContext

from kernel_api_rbac import validation
from kernel_api_rbac.escalation import confirm_no_escalation
from kernel_api_rbac.ruleresolver import RoleNotFound, RuleResolver

MASTERS = "system:masters"
ROLES = ("roles", "clusterroles")
BINDINGS = ("rolebindings", "clusterrolebindings")
#: What setting an aggregationRule takes (it can gather anything): cluster-admin's rules.
FULL_AUTHORITY = ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                  {"verbs": ["*"], "nonResourceURLs": ["*"]})
_GC_FIELDS = ("ownerReferences", "finalizers", "resourceVersion", "managedFields", "generation")


def only_gc_fields_changed(obj: dict[str, Any] | None, old: dict[str, Any] | None) -> bool:
    """kube's IsOnlyMutatingGCFields: the objects are equal but for ownerReferences and finalizers."""
    if obj is None or old is None:
        return False

    def stripped(o: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (o.get("metadata") or {}).items() if k not in _GC_FIELDS}
        return {**o, "metadata": meta}

    return stripped(obj) == stripped(old)


def _rules(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    rules = (obj or {}).get("rules")
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


class RBACEscalation(ValidatingAdmission):
    def __init__(self, context: ServerContext, resolver: RuleResolver) -> None:
        self.context = context
        self.resolver = resolver

    def handles(self, operation: Operation) -> bool:
        return operation in ("CREATE", "UPDATE")

    async def validate(self, attributes: Attributes) -> None:
        resource = attributes.resource
        if resource.group != validation.GROUP or attributes.subresource:
            return
        if resource.resource not in ROLES + BINDINGS or MASTERS in attributes.user.groups:
            return
        if attributes.operation == "UPDATE" and only_gc_fields_changed(attributes.object,
                                                                        attributes.old_object):
            return
        if resource.resource in ROLES:
            await self._check_role(attributes)
        else:
            await self._check_binding(attributes)

    async def _allowed(self, attributes: Attributes, verb: str, resource: str, name: str) -> bool:
        try:
            decision, _ = await self.context.authorize(AuthorizationAttributes(
                attributes.user, verb, True, namespace=attributes.namespace,
                api_group=validation.GROUP, api_version="*", resource=resource, name=name))
        except AuthorizationError:  # a failed mode allows nothing; the rules still may
            return False
        return decision is Decision.ALLOW

    async def _check_role(self, attributes: Attributes) -> None:
        """kube's role/clusterrole policybased Create and Update."""
        # kube asks with the request's name: none on a create (a POST to the collection)
        name = attributes.name if attributes.operation == "UPDATE" else ""
        if await self._allowed(attributes, "escalate", attributes.resource.resource, name):
            return
        user, namespace = attributes.user, attributes.namespace
        reason = confirm_no_escalation(self.resolver, user, namespace, _rules(attributes.object))
        if reason:
            raise attributes.forbidden(reason)
        if (attributes.object or {}).get("aggregationRule") is not None and confirm_no_escalation(
                self.resolver, user, namespace, FULL_AUTHORITY):
            raise attributes.forbidden("must have cluster-admin privileges to use the aggregationRule")

    async def _check_binding(self, attributes: Attributes) -> None:
        """kube's rolebinding/clusterrolebinding policybased Create and Update."""
        role_ref = (attributes.object or {}).get("roleRef") or {}
        kind = role_ref.get("kind")
        if kind in ("Role", "ClusterRole") and await self._allowed(
                attributes, "bind", "roles" if kind == "Role" else "clusterroles",
                role_ref.get("name") or ""):
            return
        try:
            rules = self.resolver.get_role_reference_rules(role_ref, attributes.namespace)
        except RoleNotFound as missing:
            raise status.not_found(validation.GROUP, missing.resource, missing.name) from None
        except ValueError as error:
            raise status.bad_request(str(error)) from None
        reason = confirm_no_escalation(self.resolver, attributes.user, attributes.namespace, rules)
        if reason:
            raise attributes.forbidden(reason)
