"""api_authentication: the authentication.k8s.io/v1 API group.

``selfsubjectreviews`` (``kubectl auth whoami``) and ``tokenreviews`` (services validating tokens
against this server), both create-only and stored nowhere; see :mod:`.reviews`.
"""

from __future__ import annotations

from kernel import hookimpl
from kernel.endpoints.apigroup import APIGroup

from kernel_api_authentication.reviews import (GROUP, RESOURCES, VERSION, SelfSubjectReviewREST,
                                               TokenReviewREST)


def _group(context) -> APIGroup:
    return APIGroup(GROUP, VERSION, RESOURCES, storage={
        "selfsubjectreviews": SelfSubjectReviewREST(),
        "tokenreviews": TokenReviewREST(context.authenticate, context.options.api_audiences),
    })


@hookimpl
def kernel_api_groups():
    return {f"{GROUP}/{VERSION}": _group}
