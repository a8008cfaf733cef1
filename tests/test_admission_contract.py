"""The admission contract suite (kernel.testing.contracts) against the in-tree NamespaceLifecycle
(plugins/api_core) and the test fixture plugins' RecordMutating, RecordValidating and Both
(tests/fixtures/kernel-test-plugins), served from their pip-installed copy."""

from __future__ import annotations

import importlib

import pytest

from kernel.testing.contracts import (UNCHANGED, AdmissionCase, AdmissionContract, Mutated,
                                      Refused, request)

from conftest import plugin_env


def configmap(name: str, labels: dict[str, str] | None = None) -> dict:
    meta: dict = {"name": name, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


class TestNamespaceLifecycleContract(AdmissionContract):
    plugin, name = "api_core", "NamespaceLifecycle"

    @pytest.fixture
    async def admission(self, kernel_in_process):
        # The plugin looks namespaces up in its server's store: build it in a real server.
        kernel = await kernel_in_process("--plugins=api_core,storage_memory")
        [plugin] = [p for n, p in kernel.server.admission.mutating if n == "NamespaceLifecycle"]
        return plugin

    @pytest.fixture
    def cases(self) -> list[AdmissionCase]:
        return [
            AdmissionCase(request("CREATE", "configmaps", "default", configmap("cm-a")), UNCHANGED),
            AdmissionCase(request("CREATE", "namespaces", "", namespace("contract-ns")), UNCHANGED),
            AdmissionCase(request("DELETE", "namespaces", "", None, name="kube-public",
                                  old=namespace("kube-public")),
                          Refused("this namespace may not be deleted")),
            AdmissionCase(request("DELETE", "namespaces", "", None, name="default",
                                  old=namespace("default")),
                          Refused("this namespace may not be deleted")),
            AdmissionCase(request("UPDATE", "configmaps", "default", configmap("cm-a"),
                                  old=configmap("cm-a")), UNCHANGED),
        ]


@pytest.fixture
def fixture_admission(test_plugins_path: str, monkeypatch: pytest.MonkeyPatch):
    """The module kernel serve loads as test_admission, imported from the same installed copy."""
    monkeypatch.syspath_prepend(test_plugins_path)
    return importlib.import_module("kernel_test_plugins.admission")


class FixturePluginServer(AdmissionContract):
    plugin = "test_admission"

    @pytest.fixture
    def kernel_env(self, test_plugins_path: str) -> dict[str, str]:
        return plugin_env(test_plugins_path)

    @pytest.fixture
    def admission(self, fixture_admission):
        return getattr(fixture_admission, self.name)(None)


class TestRecordMutatingContract(FixturePluginServer):
    name = "RecordMutating"

    @pytest.fixture
    def cases(self) -> list[AdmissionCase]:
        return [
            AdmissionCase(request("CREATE", "configmaps", "default", configmap("cm-m")),
                          Mutated(configmap("cm-m", {"admitted-by": "RecordMutating"}))),
            AdmissionCase(request("UPDATE", "configmaps", "default", configmap("cm-m", {"a": "b"}),
                                  old=configmap("cm-m")),
                          Mutated(configmap("cm-m", {"a": "b", "admitted-by": "RecordMutating"}))),
            AdmissionCase(request("DELETE", "configmaps", "default", None, old=configmap("cm-gone")),
                          UNCHANGED),
        ]


class TestRecordValidatingContract(FixturePluginServer):
    name = "RecordValidating"

    @pytest.fixture
    def cases(self) -> list[AdmissionCase]:
        return [
            AdmissionCase(request("CREATE", "configmaps", "default", configmap("cm-ok")), UNCHANGED),
            AdmissionCase(request("CREATE", "configmaps", "default", configmap("cm-no", {"deny": "yes"})),
                          Refused("label deny=yes")),
            AdmissionCase(request("UPDATE", "configmaps", "default", configmap("cm-no", {"deny": "x"}),
                                  old=configmap("cm-no")), Refused("label deny=x")),
        ]


class TestBothContract(FixturePluginServer):
    name = "Both"

    @pytest.fixture
    def cases(self) -> list[AdmissionCase]:
        return [AdmissionCase(request("CREATE", "configmaps", "default", configmap("cm-b")), UNCHANGED)]
