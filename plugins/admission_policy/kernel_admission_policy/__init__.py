"""ValidatingAdmissionPolicy for the kernel (k8s.io/apiserver/pkg/admission/plugin/policy/validating)."""
