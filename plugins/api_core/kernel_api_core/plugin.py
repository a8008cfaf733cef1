"""The api_core plugin's hooks: the core v1 group (namespaces, configmaps, secrets), the
NamespaceLifecycle and ServiceAccount admission plugins, the default namespaces, the namespace,
service-account and root-CA controllers and the ``kubernetes`` Service's controller."""

from __future__ import annotations

from kernel import hookimpl
from kernel.admission import default_enabled
from kernel.endpoints.apigroup import APIGroup
from kernel.context import ServerContext

from kernel.registry.store import ListOptions
from kernel.server.options import string_list
from kernel_api_core import bootstrap, namespace_controller, namespace_defaults
from kernel_api_core.allocator import ServiceAllocators, parse_cidrs, parse_port_range
from kernel_api_core.lifecycle import NamespaceLifecycle
from kernel_api_core.serviceaccount_admission import ServiceAccountAdmission
from kernel_api_core.services import make_service_spec
from kernel_api_core import RESOURCES

# kube-controller-manager's names for the controllers this plugin runs, for --controllers
CONTROLLERS = ("namespace-controller", "serviceaccount-controller",
               "root-ca-certificate-publisher-controller")
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
BOOTSTRAP_USER_AGENT = "kernel/bootstrap-namespaces"


@hookimpl
def kernel_add_options(options):
    options.add("service-cluster-ip-range", default="10.0.0.0/24",
                help="A CIDR notation IP range from which to assign service cluster IPs (two of "
                     "different families, comma-separated, for dual-stack). The first IP is the "
                     "kubernetes service's.")
    options.add("service-node-port-range", default="30000-32767",
                help="A port range to reserve for services with NodePort visibility. "
                     "Example: '30000-32767'. Inclusive at both ends of the range.")
    options.add("controllers", default=["*"], type=string_list,
                help="A list of controllers to enable, as kube-controller-manager's flag: '*' "
                     "enables all, 'foo' enables the controller named 'foo', '-foo' disables it. "
                     "Controllers: " + ", ".join(CONTROLLERS) + ".")


@hookimpl
def kernel_validate_options(options):
    errors = []
    try:
        parse_cidrs(options.service_cluster_ip_range)
    except ValueError as error:
        errors.append(f"--service-cluster-ip-range: {error}")
    try:
        parse_port_range(options.service_node_port_range)
    except ValueError as error:
        errors.append(f"--service-node-port-range: {error}")
    errors += [f"--controllers: {name.lstrip('-')!r} is not in the list of known controllers"
               for name in options.controllers if name.lstrip("-") not in (*CONTROLLERS, "*")]
    return errors


def controller_enabled(options, name: str) -> bool:
    """kube's rule: an explicit ``-name`` disables, an explicit ``name`` or ``*`` enables."""
    if f"-{name}" in options.controllers:
        return False
    return name in options.controllers or "*" in options.controllers


def core_group(context: ServerContext) -> APIGroup:
    """The v1 group of one server: the services resource holds that server's allocation, rebuilt
    from the stored services before its first allocation."""
    options = context.options
    allocators = ServiceAllocators([str(c) for c in parse_cidrs(options.service_cluster_ip_range)],
                                   options.service_node_port_range)

    async def stored_services():
        return (await context.store("", "services").list("", ListOptions())).items

    return APIGroup("", "v1", [*RESOURCES, make_service_spec(allocators, stored_services)])


@hookimpl
def kernel_api_groups():
    return {"v1": core_group}


@hookimpl
def kernel_admission_plugins():
    return {"NamespaceLifecycle": default_enabled(NamespaceLifecycle),
            "ServiceAccount": default_enabled(ServiceAccountAdmission)}


async def create_default_namespaces(context: ServerContext) -> None:
    # Through the API, as kube's bootstrap controller does: admission and validation apply. As
    # there, a namespace already there (an earlier start) is found by a read, not a failed create.
    client = context.loopback_client(BOOTSTRAP_USER_AGENT)
    for name in DEFAULT_NAMESPACES:
        await client.ensure("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": name}})


@hookimpl
def kernel_post_start_hooks(context):
    hooks = {"bootstrap-namespaces": create_default_namespaces}
    controllers = {"namespace-controller": ("start-namespace-controller", namespace_controller.run),
                   "serviceaccount-controller": ("start-serviceaccount-controller",
                                                 namespace_defaults.run_serviceaccount_controller),
                   "root-ca-certificate-publisher-controller": (
                       "start-root-ca-cert-publisher", namespace_defaults.run_root_ca_publisher)}
    for name, (hook, run) in controllers.items():
        if controller_enabled(context.options, name):
            hooks[hook] = run
    if bootstrap.served(context):  # services, endpoints and endpointslices are all served
        hooks["start-kubernetes-service-controller"] = bootstrap.start
    return hooks
