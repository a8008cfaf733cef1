"""The plugin's hooks: authorization.k8s.io/v1 served from the server's authorizer chain."""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_authorization.reviews import (GROUP, RESOURCES, VERSION, LocalSubjectAccessReviewREST,
                                              SelfSubjectAccessReviewREST, SelfSubjectRulesReviewREST,
                                              SubjectAccessReviewREST)


def _group(context) -> APIGroup:
    # The chains are called through the context at request time: authorizers are built after
    # API groups, so they must not be looked up here.
    return APIGroup(GROUP, VERSION, RESOURCES, storage={
        "localsubjectaccessreviews": LocalSubjectAccessReviewREST(context.authorize),
        "selfsubjectaccessreviews": SelfSubjectAccessReviewREST(context.authorize),
        "selfsubjectrulesreviews": SelfSubjectRulesReviewREST(context.rules_for),
        "subjectaccessreviews": SubjectAccessReviewREST(context.authorize),
    })


@hookimpl
def kernel_api_groups():
    return {f"{GROUP}/{VERSION}": _group}
