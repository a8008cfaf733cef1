"""audit: kube's auditing for the kernel.

The kernel runs the audit stage of the request pipeline and builds the events
(:mod:`kernel.audit`); this plugin provides the policy (:mod:`kernel_audit.policy`,
``--audit-policy-file``) and the log backend (:mod:`kernel_audit.log`, ``--audit-log-*``, rotated by
:mod:`kernel_audit.rotate`) and the webhook backend (:mod:`kernel_audit.webhook`,
``--audit-webhook-*``, batched by :mod:`kernel_audit.batch`). Hooks live in :mod:`kernel_audit.plugin`.
"""
