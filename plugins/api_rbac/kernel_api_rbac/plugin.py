"""The api_rbac plugin's hooks: the rbac.authorization.k8s.io/v1 group, the RBACEscalation
admission plugin, the ``rbac/bootstrap-roles`` post-start hook and the clusterrole-aggregation
controller."""

from __future__ import annotations

from kernel import hookimpl
from kernel.admission import default_enabled
from kernel.context import ServerContext

from kernel_api_rbac import bootstrap
from kernel_api_rbac.group import GROUP_VERSION, make_group, rbac_group
from kernel_api_rbac.policybased import RBACEscalation

AGGREGATION_CONTROLLER = "clusterrole-aggregation-controller"


@hookimpl
def kernel_api_groups():
    return {GROUP_VERSION: make_group}


def escalation_check(context: ServerContext) -> RBACEscalation:
    return RBACEscalation(context, rbac_group(context).rule_resolver)


@hookimpl
def kernel_admission_plugins():
    return {"RBACEscalation": default_enabled(escalation_check)}


async def bootstrap_roles(context: ServerContext) -> None:
    """Create or reconcile the policy, aggregate admin/edit/view once, and wait until the
    informers (so the authorizer) see all of it."""
    await bootstrap.bootstrap_roles(context)
    await rbac_group(context).aggregation.sync_all()


async def start_aggregation_controller(context: ServerContext) -> None:
    context.spawn(AGGREGATION_CONTROLLER, rbac_group(context).aggregation.run)


@hookimpl
def kernel_post_start_hooks(context):
    return {"rbac/bootstrap-roles": bootstrap_roles,
            "rbac/start-clusterrole-aggregation-controller": start_aggregation_controller}
