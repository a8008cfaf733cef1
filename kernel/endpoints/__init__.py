"""HTTP endpoints (k8s.io/apiserver/pkg/endpoints): the REST handlers, request decoding and
content negotiation, discovery, OpenAPI and the watch server."""
