"""Auditing for the kernel (audit.k8s.io/v1): the policy and the log and webhook backends."""
