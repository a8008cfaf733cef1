"""api_authorization: the authorization.k8s.io/v1 API group.

SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview (``kubectl auth can-i``)
and SelfSubjectRulesReview (``kubectl auth can-i --list``): create-only, stored nowhere, decided
by the server's authorizer chain (:mod:`.reviews`).
"""
