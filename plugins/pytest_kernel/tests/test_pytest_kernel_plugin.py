"""pytest-kernel's fixtures, run by pytester in inner pytest sessions against real servers."""

from __future__ import annotations

import re
import shutil
import textwrap

import pytest

from pytest_kernel.plugin import namespace_name
from pytest_kernel.server import KernelSettings, installed_plugins

pytest_plugins = ["pytester"]

INNER_ARGS = ("-p", "no:cacheprovider", "-p", "no:randomly")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*INNER_ARGS, *args)


def test_fixtures_give_ready_clients_of_one_session_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="""
        import json

        SEEN = []

        def test_httpx_and_kubernetes_client(kernel_server, kernel_httpx, kernel_core_v1):
            SEEN.append(kernel_server.url)
            assert kernel_httpx.get("/readyz").status_code == 200
            names = {ns.metadata.name for ns in kernel_core_v1.list_namespace().items}
            assert {"default", "kube-system"} <= names

        def test_kubeconfig_with_kubectl(kernel_server, kernel_kubeconfig):
            SEEN.append(kernel_server.url)
            assert kernel_kubeconfig == kernel_server.kubeconfig
            out = kernel_server.kubectl("get", "namespace", "default", "-o", "json").stdout
            assert json.loads(out)["metadata"]["name"] == "default"

        def test_dynamic_client(kernel_dynamic_client, kernel_namespace):
            configmaps = kernel_dynamic_client.resources.get(api_version="v1", kind="ConfigMap")
            configmaps.create(body={"metadata": {"name": "c"}, "data": {"k": "v"}},
                              namespace=kernel_namespace)
            assert configmaps.get(name="c", namespace=kernel_namespace).data.k == "v"

        def test_same_server_for_the_session(kernel_server):
            assert SEEN == [kernel_server.url, kernel_server.url]
    """)
    result = run(pytester)
    result.assert_outcomes(passed=4)
    summary = [line for line in result.outlines if line.startswith("kernel: https://127.0.0.1:")]
    assert len(summary) == 1, result.outlines
    assert re.search(r"ready in \d+\.\d\ds \(plugins api_core,.*storage_memory", summary[0])


def test_failing_test_report_carries_the_server_log(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="""
        def test_passes(kernel_httpx):
            kernel_httpx.get("/api/v1/namespaces/default/configmaps/passing-marker")

        def test_fails(kernel_httpx):
            response = kernel_httpx.get("/api/v1/namespaces/default/configmaps/failing-marker")
            assert response.status_code == 200
    """)
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    section = out[out.index("Captured kernel log call"):]
    # The request of the failing test, with its response code; not the server's startup, logged
    # before the first test's request (a request line can trail its response a little, so the
    # previous test's last line may be there).
    assert re.search(r'URI="/api/v1/namespaces/default/configmaps/failing-marker".*resp=404', section)
    log_path = re.search(r"^kernel: .*; log: (\S+)$", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    with open(log_path) as log:
        assert "Serving securely" in log.read()
    assert "Serving securely" not in section
    assert out.count("Captured kernel log") == 1


def test_namespaces_are_per_test_and_deleted_afterwards(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="""
        import time

        NAMES = []

        def test_first(kernel_namespace, kernel_core_v1):
            NAMES.append(kernel_namespace)
            assert kernel_namespace.startswith("test-first-")
            kernel_core_v1.create_namespaced_config_map(
                kernel_namespace, {"metadata": {"name": "left-behind"}})

        def test_second(kernel_namespace, kernel_httpx):
            assert kernel_namespace != NAMES[0]
            deadline = time.monotonic() + 30
            while kernel_httpx.get(f"/api/v1/namespaces/{NAMES[0]}").status_code != 404:
                assert time.monotonic() < deadline, "namespace of test_first never went away"
                time.sleep(0.02)
            listed = kernel_httpx.get(f"/api/v1/namespaces/{NAMES[0]}/configmaps").json()
            assert listed["items"] == []
    """)
    result = run(pytester)
    result.assert_outcomes(passed=2)


MANIFESTS = {
    "00-namespace.yaml": """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: from-manifests
    """,
    "10-objects.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
          namespace: from-manifests
        data:
          mode: fast
        ---
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: ServiceAccount
          metadata:
            name: robot
        - apiVersion: v1
          kind: Namespace
          metadata:
            name: default
            labels:
              replaced: "yes"
    """,
}

CHECK_MANIFESTS = """
    def test_applied(kernel_core_v1):
        settings = kernel_core_v1.read_namespaced_config_map("settings", "from-manifests")
        assert settings.data == {"mode": "fast"}
        assert kernel_core_v1.read_namespaced_service_account("robot", "default")
        # An object that existed (the default namespace) is replaced.
        assert kernel_core_v1.read_namespace("default").metadata.labels["replaced"] == "yes"
"""


def _write_manifests(pytester: pytest.Pytester, directory: str) -> None:
    base = pytester.mkdir(directory)
    for name, text in MANIFESTS.items():
        (base / name).write_text(textwrap.dedent(text))


def test_manifests_from_the_ini_option(pytester: pytest.Pytester) -> None:
    _write_manifests(pytester, "deploy")
    pytester.makeini("[pytest]\nkernel_manifests = deploy\n")
    pytester.makepyfile(test_inner=CHECK_MANIFESTS)
    run(pytester).assert_outcomes(passed=1)


def test_manifests_from_the_command_line(pytester: pytest.Pytester) -> None:
    _write_manifests(pytester, "elsewhere")
    pytester.makepyfile(test_inner=CHECK_MANIFESTS)
    run(pytester, "--kernel-manifests=elsewhere").assert_outcomes(passed=1)


def test_a_bad_manifest_fails_the_tests_with_its_file_named(pytester: pytest.Pytester) -> None:
    bad = pytester.mkdir("bad")
    (bad / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\n")
    (bad / "unknown.yaml").write_text("apiVersion: v1\nkind: Gizmo\nmetadata:\n  name: g\n")
    pytester.makepyfile(test_inner="""
        def test_one(kernel_server):
            pass

        def test_two(kernel_server):
            pass
    """)
    result = run(pytester, "--kernel-manifests=bad")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*kernel manifests: *broken.yaml: ConfigMap 'Not_Valid': 422 *"])
    assert "Traceback" not in result.stdout.str()


def test_a_server_that_does_not_start_fails_the_tests_with_its_log(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="""
        def test_one(kernel_server):
            pass

        def test_two(kernel_httpx):
            pass
    """)
    result = run(pytester, "--kernel-arg=--no-such-flag=1")
    result.assert_outcomes(errors=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*kernel did not start:*", "*--no-such-flag: unknown flag*"])
    assert "Traceback" not in out and "kernel/testing/__init__.py" not in out


def test_a_conftest_override_gets_a_server_of_its_own(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_top="""
        def test_top(kernel_httpx):
            assert kernel_httpx.get("/apis/coordination.k8s.io/v1").status_code == 404

        def test_top_again(kernel_httpx):
            assert kernel_httpx.get("/apis/coordination.k8s.io/v1").status_code == 404
    """)
    sub = pytester.mkpydir("sub")
    (sub / "conftest.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.fixture(scope="session")
        def kernel_server(kernel_start, kernel_settings):
            return kernel_start(kernel_settings.replace(
                plugins=["api_core", "api_coordination", "storage_memory"]))
    """))
    (sub / "test_sub.py").write_text(textwrap.dedent("""
        def test_sub(kernel_httpx):
            assert kernel_httpx.get("/apis/coordination.k8s.io/v1").status_code == 200
    """))
    result = run(pytester, "-p", "no:randomly", "test_top.py::test_top", "sub",
                 "test_top.py::test_top_again")
    result.assert_outcomes(passed=3)
    assert len([line for line in result.outlines if line.startswith("kernel: https://")]) == 2


@pytest.mark.skipif("api_apiextensions" not in installed_plugins(),
                    reason="the api_apiextensions plugin (CRDs) is not installed")
def test_crds_in_the_manifests_are_established_before_the_tests(pytester: pytest.Pytester) -> None:
    crds = pytester.mkdir("crds")
    (crds / "widget.yaml").write_text(textwrap.dedent("""
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.example.kernel.dev
        spec:
          group: example.kernel.dev
          scope: Namespaced
          names: {plural: widgets, singular: widget, kind: Widget}
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec: {type: object, properties: {size: {type: integer}}}
        ---
        apiVersion: example.kernel.dev/v1
        kind: Widget
        metadata: {name: first}
        spec: {size: 3}
    """))
    pytester.makepyfile(test_inner="""
        def test_widget(kernel_custom_objects):
            widget = kernel_custom_objects.get_namespaced_custom_object(
                "example.kernel.dev", "v1", "default", "widgets", "first")
            assert widget["spec"] == {"size": 3}
    """)
    run(pytester, "--kernel-manifests=crds").assert_outcomes(passed=1)


@pytest.mark.skipif(shutil.which("etcd") is None or "storage_etcd3" not in installed_plugins(),
                    reason="etcd (etcd-server) or the storage_etcd3 plugin is not installed")
def test_etcd_storage(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="""
        def test_stored_in_etcd(kernel_server, kernel_core_v1, kernel_namespace):
            kernel_core_v1.create_namespaced_config_map(kernel_namespace, {"metadata": {"name": "e"}})
            assert kernel_core_v1.read_namespaced_config_map("e", kernel_namespace)
            assert "storage backend: etcd3" in kernel_server.log()
    """)
    result = run(pytester, "--kernel-storage=etcd")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["kernel: *storage_etcd3, storage etcd); log: *"])


def test_namespace_names_are_dns_labels_unique_per_test() -> None:
    first = namespace_name("tests/test_x.py::test_Something[param-1]")
    assert re.fullmatch(r"test-something-param-1-[0-9a-f]{6}", first)
    assert first != namespace_name("tests/test_x.py::test_Something[param-1]")
    long = namespace_name("t.py::test_" + "a" * 100)
    assert len(long) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", long)


def test_default_plugins_are_those_installed_and_etcd_swaps_the_storage() -> None:
    assert KernelSettings(plugins=("api_core", "no_such_plugin", "storage_memory")) \
        .selected_plugins() == ["api_core", "storage_memory"]
    explicit = KernelSettings().replace(plugins=["api_core", "no_such_plugin"])
    assert explicit.selected_plugins() == ["api_core", "no_such_plugin"]
    etcd = KernelSettings(plugins=("api_core", "storage_memory"), storage="etcd")
    assert etcd.selected_plugins() == ["api_core", "storage_etcd3"]
