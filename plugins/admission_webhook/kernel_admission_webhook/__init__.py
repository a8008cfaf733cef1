"""Admission webhooks (kube's MutatingAdmissionWebhook and ValidatingAdmissionWebhook): the
webhooks of MutatingWebhookConfigurations and ValidatingWebhookConfigurations called with an
AdmissionReview v1 for the requests they match."""
