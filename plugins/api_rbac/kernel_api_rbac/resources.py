"""roles, clusterroles, rolebindings, clusterrolebindings (rbac.authorization.k8s.io/v1): kube's
strategies (pkg/registry/rbac/*/strategy.go) and Table columns. No short names, no categories."""

from __future__ import annotations

from typing import Any

from kernel.apimachinery.validation import validate_path_segment_name
from kernel.endpoints.table import AGE_COLUMN, CREATED_AT_COLUMN, NAME_COLUMN
from kernel.registry.resource import Object, ResourceSpec, Strategy, TableColumn

from kernel_api_rbac import validation
from kernel_api_rbac.types import TYPES

GROUP, VERSION = validation.GROUP, "v1"


class RoleStrategy(Strategy):
    """Role and ClusterRole: rules checked as ValidatePolicyRule (nonResourceURLs only cluster-wide)."""

    allow_unconditional_update = True

    def __init__(self, namespaced: bool) -> None:
        self.namespaced = namespaced

    def validate(self, obj: Object) -> list[Any]:
        errs = validation.validate_rules(obj, self.namespaced)
        if not self.namespaced:
            errs += validation.validate_aggregation_rule(obj)
        return errs


class BindingStrategy(Strategy):
    """RoleBinding and ClusterRoleBinding: roleRef and subjects checked, roleRef immutable."""

    allow_unconditional_update = True

    def __init__(self, namespaced: bool) -> None:
        self.namespaced = namespaced

    def default(self, obj: Object) -> None:
        validation.default_binding(obj)

    def validate(self, obj: Object) -> list[Any]:
        return validation.validate_binding(obj, self.namespaced)

    def validate_update(self, obj: Object, old: Object) -> list[Any]:
        return self.validate(obj) + validation.validate_role_ref_update(obj, old)


def _subjects(kind: str) -> Any:
    """The Users / Groups / ServiceAccounts cell (rbac.SubjectsStrings, joined with ", ")."""
    def cell(obj: Object) -> str:
        names = []
        for subject in obj.get("subjects") or ():
            if subject.get("kind") != kind:
                continue
            if kind == validation.SERVICE_ACCOUNT:
                names.append(f"{subject.get('namespace') or ''}/{subject.get('name') or ''}")
            else:
                names.append(subject.get("name") or "")
        return ", ".join(names)
    return cell


def _role_ref(obj: Object) -> str:
    ref = obj.get("roleRef") or {}
    return f"{ref.get('kind') or ''}/{ref.get('name') or ''}"


def binding_columns(what: str) -> tuple[TableColumn, ...]:
    return (
        NAME_COLUMN,
        TableColumn("Role", "string", _role_ref,
                    description="RoleRef can reference a Role in the current namespace or a "
                                "ClusterRole in the global namespace. If the RoleRef cannot be "
                                "resolved, the Authorizer must return an error."),
        AGE_COLUMN,
        TableColumn("Users", "string", _subjects(validation.USER), priority=1,
                    description=f"Users in the {what}"),
        TableColumn("Groups", "string", _subjects(validation.GROUP_KIND), priority=1,
                    description=f"Groups in the {what}"),
        TableColumn("ServiceAccounts", "string", _subjects(validation.SERVICE_ACCOUNT), priority=1,
                    description=f"ServiceAccounts in the {what}"),
    )


ROLE_COLUMNS = (NAME_COLUMN, CREATED_AT_COLUMN)


def _spec(kind: str, plural: str, namespaced: bool, strategy: Strategy,
          columns: tuple[TableColumn, ...], description: str) -> ResourceSpec:
    return ResourceSpec(group=GROUP, version=VERSION, kind=kind, plural=plural,
                        singular=kind.lower(), namespaced=namespaced, **TYPES.spec_fields(kind),
                        strategy=strategy, table_columns=columns,
                        name_validator=validate_path_segment_name, description=description)


role_spec = _spec("Role", "roles", True, RoleStrategy(True), ROLE_COLUMNS,
                  "Role is a namespaced, logical grouping of PolicyRules that can be referenced "
                  "as a unit by a RoleBinding.")
cluster_role_spec = _spec("ClusterRole", "clusterroles", False, RoleStrategy(False), ROLE_COLUMNS,
                          "ClusterRole is a cluster level, logical grouping of PolicyRules that can "
                          "be referenced as a unit by a RoleBinding or ClusterRoleBinding.")
role_binding_spec = _spec("RoleBinding", "rolebindings", True, BindingStrategy(True),
                          binding_columns("roleBinding"),
                          "RoleBinding references a role, but does not contain it.")
cluster_role_binding_spec = _spec("ClusterRoleBinding", "clusterrolebindings", False,
                                  BindingStrategy(False), binding_columns("clusterRoleBinding"),
                                  "ClusterRoleBinding references a ClusterRole, but not contain it.")

RESOURCES = [role_spec, cluster_role_spec, role_binding_spec, cluster_role_binding_spec]
