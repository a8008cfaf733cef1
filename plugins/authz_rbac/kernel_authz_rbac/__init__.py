"""The RBAC authorization mode (kube's RBAC authorizer) over api_rbac's rule resolver."""
