"""kube's DefaultRuleResolver (pkg/registry/rbac/validation/rule.go) over in-process informers.

The bindings that apply to a user are found through an index by subject, never by scanning every
binding: ``<binding namespace>|User:<name>``, ``|Group:<name>``, and a ServiceAccount subject as
the user it authenticates as (``User:system:serviceaccount:<ns>:<name>``). Roles are looked up by
namespace/name (the informer's key). So a decision reads only memory, and only the user's own
bindings and the roles they reference.

One resolver per server (``RBACGroup.rule_resolver``), shared by the RBAC authorizer and the
escalation check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from kernel.authentication.user import UserInfo

from kernel_api_rbac import validation

SUBJECT_INDEX = "rbac-subject"
SA_PREFIX = "system:serviceaccount:"
Object = Mapping[str, Any]
#: ``visit(source, rule, error) -> keep going``: kube's VisitRulesFor visitor; ``str(source)``
#: describes the binding (built only when asked for, as kube's fmt.Stringer).
Visitor = Callable[["BindingSource | None", "Object | None", "str | None"], bool]


class Lister(Protocol):
    """What the resolver reads of an informer."""

    def get(self, name: str, namespace: str = "") -> Object | None: ...

    def by_index(self, name: str, value: str) -> list[Object]: ...


def subject_index(binding: Object) -> list[str]:
    """The index values of a (Cluster)RoleBinding: one per subject that can apply to a user."""
    namespace = binding["metadata"].get("namespace") or ""
    values = []
    for subject in binding.get("subjects") or ():
        kind, name = subject.get("kind"), subject.get("name") or ""
        if kind == validation.SERVICE_ACCOUNT:
            sa_namespace = subject.get("namespace") or namespace
            if not sa_namespace:
                continue  # kube: a ServiceAccount subject without a namespace applies to nobody
            kind, name = validation.USER, f"{SA_PREFIX}{sa_namespace}:{name}"
        elif kind not in (validation.USER, validation.GROUP_KIND):
            continue
        values.append(f"{namespace}|{kind}:{name}")
    return values


def applies_to(user: UserInfo, subject: Object, namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name") or ""
    if kind == validation.USER:
        return user.name == name
    if kind == validation.GROUP_KIND:
        return name in user.groups
    if kind == validation.SERVICE_ACCOUNT:
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.name == f"{SA_PREFIX}{sa_namespace}:{name}"
    return False


def describe_subject(subject: Object, binding_namespace: str) -> str:
    kind, name = subject.get("kind") or "", subject.get("name") or ""
    if kind == validation.SERVICE_ACCOUNT:
        name = f"{name}/{subject.get('namespace') or binding_namespace}"
    return f'{kind} "{name}"'


def describe_binding(binding: Object, subject: Object) -> str:
    """kube's clusterRoleBindingDescriber / roleBindingDescriber."""
    meta, ref = binding["metadata"], binding.get("roleRef") or {}
    namespace = meta.get("namespace") or ""
    what = f'RoleBinding "{meta["name"]}/{namespace}"' if namespace else \
        f'ClusterRoleBinding "{meta["name"]}"'
    return (f'{what} of {ref.get("kind", "")} "{ref.get("name", "")}" to '
            f"{describe_subject(subject, namespace)}")


def aggregate_errors(errors: Sequence[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): repeats dropped; one error as is, several ``[a, b]``."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


class BindingSource(NamedTuple):
    """The binding and subject that grant a rule; ``str()`` is kube's describer."""

    binding: Object
    subject: Object

    def __str__(self) -> str:
        return describe_binding(self.binding, self.subject)


class RoleNotFound(LookupError):
    """A binding's roleRef names no role. The message is the informer lister's NotFound, which
    names the resource in the singular (``role.rbac.authorization.k8s.io "x" not found``), as
    kube's RBAC authorizer reports it; ``resource`` is the plural, for an API 404."""

    def __init__(self, resource: str, name: str) -> None:
        super().__init__(f'{resource[:-1]}.{validation.GROUP} "{name}" not found')
        self.resource, self.name = resource, name


class RuleResolver:
    """kube's AuthorizationRuleResolver over four listers (informers, or static lists in tests)."""

    def __init__(self, roles: Lister, role_bindings: Lister, cluster_roles: Lister,
                 cluster_role_bindings: Lister) -> None:
        self.roles, self.role_bindings = roles, role_bindings
        self.cluster_roles, self.cluster_role_bindings = cluster_roles, cluster_role_bindings

    def get_role_reference_rules(self, role_ref: Object, namespace: str) -> list[Object]:
        """The rules of the role a binding in ``namespace`` references; RoleNotFound, ValueError."""
        kind, name = role_ref.get("kind"), role_ref.get("name") or ""
        if kind == "Role":
            role = self.roles.get(name, namespace)
            if role is None:
                raise RoleNotFound("roles", name)
        elif kind == "ClusterRole":
            role = self.cluster_roles.get(name)
            if role is None:
                raise RoleNotFound("clusterroles", name)
        else:
            raise ValueError(f'unsupported role reference kind: "{kind}"')
        return list(role.get("rules") or ())

    def bindings_for(self, user: UserInfo, namespace: str) -> Iterator[Object]:
        """The bindings with a subject that may be ``user``: cluster-wide, then ``namespace``'s."""
        keys = [f"User:{user.name}", *(f"Group:{group}" for group in user.groups)]
        scopes = [(self.cluster_role_bindings, "")]
        if namespace:
            scopes.append((self.role_bindings, namespace))
        for lister, scope in scopes:
            seen: set[int] = set()
            for key in keys:
                for binding in lister.by_index(SUBJECT_INDEX, f"{scope}|{key}"):
                    if id(binding) not in seen:
                        seen.add(id(binding))
                        yield binding

    def visit_rules_for(self, user: UserInfo, namespace: str, visit: Visitor) -> None:
        """kube's VisitRulesFor: every rule bound to ``user`` in ``namespace`` (and cluster-wide),
        with the binding that grants it; a missing role is visited as an error."""
        for binding in self.bindings_for(user, namespace):
            scope = binding["metadata"].get("namespace") or ""
            subject = next((s for s in binding.get("subjects") or () if applies_to(user, s, scope)),
                           None)
            if subject is None:
                continue
            try:
                rules = self.get_role_reference_rules(binding.get("roleRef") or {}, scope)
            except (RoleNotFound, ValueError) as error:
                if not visit(None, None, str(error)):
                    return
                continue
            source = BindingSource(binding, subject)
            for rule in rules:
                if not visit(source, rule, None):
                    return

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Object], list[str]]:
        """Every rule bound to ``user`` in ``namespace``, and the resolution errors."""
        rules: list[Object] = []
        errors: list[str] = []

        def accumulate(source: BindingSource | None, rule: Object | None, error: str | None) -> bool:
            if rule is not None:
                rules.append(rule)
            if error:
                errors.append(error)
            return True

        self.visit_rules_for(user, namespace, accumulate)
        return rules, errors


class StaticLister:
    """A lister over a fixed list of objects (the bootstrap policy in tests, a dry run)."""

    def __init__(self, objects: Iterable[Object]) -> None:
        self.objects = {_key(obj): obj for obj in objects}
        self.index: dict[str, list[Object]] = {}
        for key in sorted(self.objects):
            for value in subject_index(self.objects[key]):
                self.index.setdefault(value, []).append(self.objects[key])

    def get(self, name: str, namespace: str = "") -> Object | None:
        return self.objects.get(f"{namespace}/{name}" if namespace else name)

    def by_index(self, name: str, value: str) -> list[Object]:
        if name != SUBJECT_INDEX:
            raise KeyError(f"no indexer named {name!r}")
        return list(self.index.get(value, ()))


def _key(obj: Object) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def static_resolver(roles: Iterable[Object] = (), role_bindings: Iterable[Object] = (),
                    cluster_roles: Iterable[Object] = (),
                    cluster_role_bindings: Iterable[Object] = ()) -> RuleResolver:
    return RuleResolver(StaticLister(roles), StaticLister(role_bindings),
                        StaticLister(cluster_roles), StaticLister(cluster_role_bindings))


def informer_resolver(informer: Callable[[str, str], Any]) -> RuleResolver:
    """The resolver over this server's informers (``context.informer``), with the subject index."""
    listers = {plural: informer(validation.GROUP, plural)
               for plural in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")}
    for plural in ("rolebindings", "clusterrolebindings"):
        listers[plural].add_indexer(SUBJECT_INDEX, subject_index)
    return RuleResolver(listers["roles"], listers["rolebindings"], listers["clusterroles"],
                        listers["clusterrolebindings"])
