"""The audit plugin's hooks (a placeholder: the audit stage's branch brings the real ones, which
call kernel_audit.webhook's add_webhook_options, webhook_option_errors and webhook_backend)."""
