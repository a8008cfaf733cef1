"""The kernel's authorizer contract suite against the RBAC mode, on kube's bootstrap policy.

In process the authorizer reads the policy from static listers; the server the suite starts has
the same policy from its ``rbac/bootstrap-roles`` hook, so both must decide alike."""

from __future__ import annotations

import pytest

from kernel.authentication import UserInfo
from kernel.authorization import Decision
from kernel.testing.contracts import AuthorizerContract, Case, non_resource, resource
from kernel_api_rbac import bootstrappolicy
from kernel_api_rbac.ruleresolver import static_resolver
from kernel_authz_rbac.rbac import RBACAuthorizer

AUTHENTICATED = "system:authenticated"
SCHEDULER = UserInfo("system:kube-scheduler", groups=(AUTHENTICATED,))
JANE = UserInfo("jane", groups=(AUTHENTICATED,))
ANONYMOUS = UserInfo("system:anonymous", groups=("system:unauthenticated",))
SIGNER = UserInfo("system:serviceaccount:kube-system:bootstrap-signer",
                  groups=("system:serviceaccounts", "system:serviceaccounts:kube-system", AUTHENTICATED))


def bootstrap_authorizer() -> RBACAuthorizer:
    return RBACAuthorizer(static_resolver(
        bootstrappolicy.namespaced_roles(), bootstrappolicy.namespaced_role_bindings(),
        bootstrappolicy.cluster_roles(), bootstrappolicy.cluster_role_bindings()))


class TestRBACContract(AuthorizerContract):
    # authz_rbac requires api_rbac (the suite puts this after --plugins=authn_token,storage_memory,)
    plugin, mode = "api_rbac,authz_rbac", "RBAC"

    @pytest.fixture
    def authorizer(self) -> RBACAuthorizer:
        return bootstrap_authorizer()

    @pytest.fixture
    def cases(self) -> list[Case]:
        allow, none = Decision.ALLOW, Decision.NO_OPINION
        return [
            Case(resource(SCHEDULER, "get", "pods", namespace="default", name="p"), allow),
            Case(resource(SCHEDULER, "list", "pods", namespace="default"), allow),
            Case(resource(SCHEDULER, "update", "pods", namespace="default", name="p",
                          subresource="status"), allow),
            Case(resource(SCHEDULER, "get", "pods", namespace="default", name="p",
                          subresource="log"), none),
            Case(resource(SCHEDULER, "create", "secrets", namespace="default"), none),
            Case(resource(SCHEDULER, "delete", "nodes", name="n"), none),
            Case(resource(SIGNER, "get", "configmaps", namespace="kube-public", name="cluster-info"), allow),
            Case(resource(SIGNER, "get", "configmaps", namespace="default", name="cluster-info"), none),
            Case(non_resource(JANE, "get", "/apis"), allow),
            Case(non_resource(JANE, "get", "/api/v1"), allow),
            Case(non_resource(JANE, "get", "/metrics"), none),
            Case(non_resource(JANE, "post", "/version"), none),
            Case(resource(JANE, "get", "configmaps", namespace="default", name="x"), none),
            Case(non_resource(ANONYMOUS, "get", "/healthz"), allow),
            Case(non_resource(ANONYMOUS, "get", "/version"), allow),
            Case(non_resource(ANONYMOUS, "get", "/apis"), none),
            Case(resource(ANONYMOUS, "list", "secrets", namespace="default"), none),
        ]
