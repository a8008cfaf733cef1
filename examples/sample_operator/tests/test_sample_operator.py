"""The sample operator against a real kernel, with pytest-kernel's fixtures only.

The operator runs in-process (kopf's KopfRunner: a thread with its own asyncio loop) against the
session's kernel, with this project's manifests applied first. (A project of its own would keep
the two fixtures below in a conftest.py; this one runs inside the kernel's repository, whose
tests import their own conftest module by that name.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kopf.testing import KopfRunner
from kubernetes.client.exceptions import ApiException

from pytest_kernel import KernelServer, KernelSettings
from pytest_kernel.server import installed_plugins
from sample_operator import CHILD_SUFFIX, SOURCE_LABEL, render

HERE = Path(__file__).resolve().parent.parent
MANIFESTS = HERE / "manifests"
CRDS = HERE / "crd"  # the Greeting CRD and a Greeting, where the kernel serves CRDs
HAS_CRDS = "api_apiextensions" in installed_plugins()
needs_crds = pytest.mark.skipif(not HAS_CRDS, reason="the api_apiextensions plugin is not installed")


@pytest.fixture(scope="session")
def kernel_server(kernel_start: Callable[[KernelSettings], KernelServer],
                  kernel_settings: KernelSettings) -> KernelServer:
    # A project of its own would say `kernel_manifests = ["manifests"]` in its pytest ini
    # instead; this one also runs from the kernel repository's root, whose ini is not ours.
    return kernel_start(kernel_settings.replace(manifests=[MANIFESTS, CRDS] if HAS_CRDS else [MANIFESTS]))


@pytest.fixture(scope="module")
def operator(kernel_server: KernelServer) -> Iterator[KopfRunner]:
    """The operator, logged in through $KUBECONFIG (the kernel's admin kubeconfig)."""
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = kernel_server.kubeconfig
    try:
        with KopfRunner(["run", "--all-namespaces", "--standalone", "--verbose",
                         "-m", "sample_operator.operator"], timeout=60) as runner:
            yield runner
    finally:
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
    assert runner.exit_code == 0, runner.output
    assert runner.exception is None


T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float = 30, what: str = "") -> T:
    """Poll ``probe`` until it returns something other than None (or the deadline passes)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what or probe}"
        time.sleep(0.05)


def read_or_none(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def greeting_of(core_v1: Any, namespace: str, source: str, expected: str) -> Any:
    """The child ConfigMap once it says ``expected``."""
    def probe() -> Any:
        child = read_or_none(lambda: core_v1.read_namespaced_config_map(
            f"{source}{CHILD_SUFFIX}", namespace))
        return child if child is not None and (child.data or {}).get("greeting") == expected else None
    return eventually(probe, what=f"{namespace}/{source}{CHILD_SUFFIX} saying {expected!r}")


def source(name: str, who: str, labelled: bool = True) -> dict[str, Any]:
    labels = {SOURCE_LABEL: "true"} if labelled else {}
    return {"metadata": {"name": name, "labels": labels}, "data": {"name": who}}


def test_render_is_a_configmap_named_after_its_source() -> None:
    child = render("team", {"name": "Ada"})
    assert child["metadata"]["name"] == f"team{CHILD_SUFFIX}"
    assert child["data"] == {"greeting": "Hello, Ada!"}
    assert render("team", {})["data"] == {"greeting": "Hello, world!"}


def test_a_source_from_the_manifests_is_reconciled_on_start(operator: Any, kernel_core_v1: Any) -> None:
    greeting_of(kernel_core_v1, "sample-system", "preexisting", "Hello, manifests!")


def test_created_source_gets_an_owned_greeting_that_follows_updates(
        operator: Any, kernel_core_v1: Any, kernel_namespace: str) -> None:
    created = kernel_core_v1.create_namespaced_config_map(kernel_namespace, source("team", "Ada"))
    child = greeting_of(kernel_core_v1, kernel_namespace, "team", "Hello, Ada!")
    owners = child.metadata.owner_references
    assert [(o.kind, o.name, o.uid) for o in owners] == [("ConfigMap", "team", created.metadata.uid)]
    kernel_core_v1.patch_namespaced_config_map("team", kernel_namespace, {"data": {"name": "Grace"}})
    greeting_of(kernel_core_v1, kernel_namespace, "team", "Hello, Grace!")


def test_an_unlabelled_configmap_is_left_alone(
        operator: Any, kernel_core_v1: Any, kernel_namespace: str) -> None:
    kernel_core_v1.create_namespaced_config_map(kernel_namespace, source("plain", "x", labelled=False))
    kernel_core_v1.create_namespaced_config_map(kernel_namespace, source("marker", "y"))
    # Created first, the unlabelled one was seen before the marker was reconciled: a greeting
    # made for it by mistake would be there by now.
    greeting_of(kernel_core_v1, kernel_namespace, "marker", "Hello, y!")
    assert read_or_none(lambda: kernel_core_v1.read_namespaced_config_map(
        f"plain{CHILD_SUFFIX}", kernel_namespace)) is None


@needs_crds
def test_a_greeting_from_the_manifests_is_reconciled_on_start(
        operator: Any, kernel_core_v1: Any) -> None:
    greeting_of(kernel_core_v1, "sample-system", "preexisting-cr", "Hello, a custom resource!")


@needs_crds
def test_a_greeting_custom_resource_gets_an_owned_configmap(
        operator: Any, kernel_core_v1: Any, kernel_custom_objects: Any, kernel_namespace: str) -> None:
    group, version, plural = "example.kernel.dev", "v1", "greetings"
    created = kernel_custom_objects.create_namespaced_custom_object(
        group, version, kernel_namespace, plural,
        {"apiVersion": f"{group}/{version}", "kind": "Greeting", "metadata": {"name": "crd"},
         "spec": {}})
    assert created["spec"] == {"name": "world"}  # the CRD schema's default
    child = greeting_of(kernel_core_v1, kernel_namespace, "crd", "Hello, world!")
    owners = child.metadata.owner_references
    assert [(o.kind, o.name, o.uid) for o in owners] == [("Greeting", "crd", created["metadata"]["uid"])]
    kernel_custom_objects.patch_namespaced_custom_object(
        group, version, kernel_namespace, plural, "crd", {"spec": {"name": "Lin"}})
    greeting_of(kernel_core_v1, kernel_namespace, "crd", "Hello, Lin!")
