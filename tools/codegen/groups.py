"""The API groups the catalogue covers and where their inputs live in the Kubernetes tree.

One entry per group-version: its OpenAPI v3 document, its k8s.io/api package and the plugin
package that serves it (where the generated data is written).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The Kubernetes release the vendored inputs come from (api/upstream/README.md says how).
KUBERNETES_VERSION = "v1.36.2"


@dataclass(frozen=True)
class GroupVersion:
    group: str  # "" for core
    version: str
    package: str  # k8s.io/api/<package>, or a whole Go package path starting with k8s.io/
    plugin: str  # the plugin's Python package under plugins/<dir>/
    #: Whether the plugin decodes protobuf bodies of its kinds (api_apiextensions does not yet:
    #: JSONSchemaProps has doubles and raw JSON the decoder does not cover).
    protobuf: bool = True

    @property
    def openapi(self) -> str:
        """The file name of its document under api/openapi-spec/v3/."""
        if not self.group:
            return f"api__{self.version}_openapi.json"
        return f"apis__{self.group}__{self.version}_openapi.json"

    @property
    def go_package(self) -> str:
        """The Go package path (k8s.io/api/core/v1, k8s.io/apiextensions-apiserver/...)."""
        return self.package if self.package.startswith("k8s.io/") else f"k8s.io/api/{self.package}"

    @property
    def proto_package(self) -> str:
        return proto_package(self.go_package)

    @property
    def plugin_dir(self) -> str:
        return "api_" + self.plugin.removeprefix("kernel_api_")

    @property
    def output(self) -> str:
        """Where the generated data goes, relative to the repository root."""
        return f"plugins/{self.plugin_dir}/{self.plugin}/generated/{self.version}.json"


GROUPS = (
    GroupVersion("", "v1", "core/v1", "kernel_api_core"),
    GroupVersion("apps", "v1", "apps/v1", "kernel_api_apps"),
    GroupVersion("batch", "v1", "batch/v1", "kernel_api_batch"),
    GroupVersion("coordination.k8s.io", "v1", "coordination/v1", "kernel_api_coordination"),
    GroupVersion("events.k8s.io", "v1", "events/v1", "kernel_api_events"),
    GroupVersion("discovery.k8s.io", "v1", "discovery/v1", "kernel_api_discovery"),
    GroupVersion("networking.k8s.io", "v1", "networking/v1", "kernel_api_networking"),
    GroupVersion("policy", "v1", "policy/v1", "kernel_api_policy"),
    GroupVersion("storage.k8s.io", "v1", "storage/v1", "kernel_api_storage"),
    GroupVersion("scheduling.k8s.io", "v1", "scheduling/v1", "kernel_api_scheduling"),
    GroupVersion("autoscaling", "v1", "autoscaling/v1", "kernel_api_autoscaling"),
    GroupVersion("autoscaling", "v2", "autoscaling/v2", "kernel_api_autoscaling"),
    GroupVersion("authentication.k8s.io", "v1", "authentication/v1", "kernel_api_authentication"),
    GroupVersion("authorization.k8s.io", "v1", "authorization/v1", "kernel_api_authorization"),
    GroupVersion("rbac.authorization.k8s.io", "v1", "rbac/v1", "kernel_api_rbac"),
    GroupVersion("admissionregistration.k8s.io", "v1", "admissionregistration/v1",
                 "kernel_api_admissionregistration"),
    GroupVersion("apiextensions.k8s.io", "v1",
                 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1", "kernel_api_apiextensions",
                 protobuf=False),
)


def proto_package(go_package: str) -> str:
    """The proto package of a Go package: dots for slashes, underscores for dashes
    (k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1)."""
    return go_package.replace("/", ".").replace("-", "_")

#: apimachinery packages the group protos import (proto and Go sources are vendored for each).
APIMACHINERY = (
    "k8s.io/apimachinery/pkg/api/resource",
    "k8s.io/apimachinery/pkg/apis/meta/v1",
    "k8s.io/apimachinery/pkg/runtime",
    "k8s.io/apimachinery/pkg/runtime/schema",
    "k8s.io/apimachinery/pkg/util/intstr",
)
