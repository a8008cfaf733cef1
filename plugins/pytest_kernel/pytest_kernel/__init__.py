"""pytest-kernel: a real Kubernetes-compatible API server (the ``kernel``) for operator tests.

The envtest replacement: no kube-apiserver or etcd binaries to download, a server ready in about
half a second. Installed, it is a pytest plugin (entry point ``pytest11: kernel``) whose
fixtures are ``kernel_server``, ``kernel_kubeconfig``, ``kernel_httpx``, ``kernel_api_client``,
``kernel_core_v1``, ``kernel_custom_objects``, ``kernel_dynamic_client``, ``kernel_namespace``
and ``kernel_settings``; see the README.
"""

from pytest_kernel.manifests import ManifestError, apply, wait_established
from pytest_kernel.server import KernelServer, KernelSettings, start_server

__all__ = ["KernelServer", "KernelSettings", "ManifestError", "apply", "start_server",
           "wait_established"]
