"""The generic registry (k8s.io/apiserver/pkg/registry): one resource's verbs over storage."""
