"""The authz_rbac plugin's hooks: the ``RBAC`` authorization mode, over api_rbac's resolver."""

from __future__ import annotations

from kernel import hookimpl
from kernel.context import ServerContext

from kernel_api_rbac.group import rbac_group
from kernel_authz_rbac.rbac import RBACAuthorizer


@hookimpl
def kernel_requires():
    return ["api_rbac"]


def rbac_authorizer(context: ServerContext) -> RBACAuthorizer:
    return RBACAuthorizer(rbac_group(context).rule_resolver)


@hookimpl
def kernel_authorizers():
    return {"RBAC": rbac_authorizer}
