"""authz_webhook: the Webhook authorization mode (SubjectAccessReview to a remote service).

Hooks live in :mod:`kernel_authz_webhook.plugin`; the authorizer in
:mod:`kernel_authz_webhook.authorizer`; a real local HTTPS webhook for tests in
:mod:`kernel_authz_webhook.testing`.
"""
