"""The generic API server (k8s.io/apiserver/pkg/server): the filters, lifecycle, health, serving,
and the server chain that puts the endpoints, registries and plugins together."""
