"""The pytest plugin (entry point ``pytest11: kernel``): options, fixtures and report hooks.

Nothing starts until a test asks for ``kernel_server`` or a fixture built on it; then one server
per distinct :class:`~pytest_kernel.server.KernelSettings` serves the rest of the session.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_kernel import manifests
from pytest_kernel.server import DEFAULT_PLUGINS, STORAGES, KernelServer, KernelSettings, start_server

SERVERS = pytest.StashKey[dict[KernelSettings, KernelServer]]()
FAILED_STARTS = pytest.StashKey[dict[KernelSettings, str]]()
LOG_OFFSET = pytest.StashKey[tuple[KernelServer, int]]()
LOG_TAIL = 20_000  # characters of server log attached to a failing test's report


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kernel", "kernel API server for tests (pytest-kernel)")
    group.addoption("--kernel-plugins", default=None, metavar="A,B",
                    help="kernel plugins to load (overrides the kernel_plugins ini option)")
    group.addoption("--kernel-manifests", action="append", default=None, metavar="DIR",
                    help="apply the manifests in DIR before the tests (repeatable; overrides "
                         "the kernel_manifests ini option)")
    group.addoption("--kernel-storage", choices=STORAGES, default=None,
                    help="memory (default) or etcd: a real etcd started for the session")
    group.addoption("--kernel-arg", action="append", default=None, metavar="FLAG",
                    help="an extra `kernel serve` flag, e.g. --kernel-arg=--authorization-mode=RBAC")
    parser.addini("kernel_plugins", type="args", default=None,
                  help=f"kernel plugins to load (default: {' '.join(DEFAULT_PLUGINS)}, "
                       "those installed)")
    parser.addini("kernel_manifests", type="paths", default=[],
                  help="directories of manifests (CRDs first) applied before the tests")
    parser.addini("kernel_storage", default="memory", help="memory or etcd")
    parser.addini("kernel_args", type="args", default=[], help="extra `kernel serve` flags")


def settings_from_config(config: pytest.Config) -> KernelSettings:
    """Command line first, then the ini file, then the defaults."""
    plugins_option = config.getoption("kernel_plugins")
    plugins_ini = config.getini("kernel_plugins")
    if plugins_option is not None:
        plugins = tuple(p for p in plugins_option.split(",") if p)
    else:
        plugins = tuple(plugins_ini) if plugins_ini else DEFAULT_PLUGINS
    option_dirs = config.getoption("kernel_manifests")
    dirs = [Path(d).resolve() for d in option_dirs] if option_dirs else config.getini("kernel_manifests")
    storage = config.getoption("kernel_storage") or config.getini("kernel_storage")
    if storage not in STORAGES:
        raise pytest.UsageError(f"kernel_storage: {storage!r} is not one of {', '.join(STORAGES)}")
    args = [*config.getini("kernel_args"), *(config.getoption("kernel_arg") or [])]
    return KernelSettings(plugins=plugins, manifests=tuple(Path(d) for d in dirs),
                          storage=storage, args=tuple(args),
                          explicit_plugins=plugins_option is not None or bool(plugins_ini))


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SERVERS] = {}
    config.stash[FAILED_STARTS] = {}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # Kept in the stash (stopped) for the terminal summary, which comes after this hook.
    for server in session.config.stash.get(SERVERS, {}).values():
        server.stop()


def _server_for(config: pytest.Config, settings: KernelSettings,
                tmp_path_factory: pytest.TempPathFactory) -> KernelServer:
    """The session's server for these settings, started (and manifests applied) on first use.
    A failed start is remembered so that later tests fail at once with the same message."""
    servers, failed = config.stash[SERVERS], config.stash[FAILED_STARTS]
    if settings in failed:
        pytest.fail(failed[settings], pytrace=False)
    if settings not in servers:
        workdir = tmp_path_factory.mktemp("kernel")
        try:
            server = start_server(settings, workdir)
        except Exception as error:  # noqa: BLE001 - reported as the tests' failure
            failed[settings] = f"kernel did not start: {error}"
            pytest.fail(failed[settings], pytrace=False)
        servers[settings] = server
        try:
            manifests.apply(server.httpx, settings.manifests)
        except manifests.ManifestError as error:
            failed[settings] = f"kernel manifests: {error}"
            pytest.fail(failed[settings], pytrace=False)
    return servers[settings]


@pytest.fixture(scope="session")
def kernel_settings(pytestconfig: pytest.Config) -> KernelSettings:
    """The settings of ``kernel_server``: ini options and command line."""
    return settings_from_config(pytestconfig)


@pytest.fixture(scope="session")
def kernel_start(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory,
                 ) -> Callable[[KernelSettings], KernelServer]:
    """A function from settings to the session's server for them (started on first use)."""
    return lambda settings: _server_for(pytestconfig, settings, tmp_path_factory)


@pytest.fixture(scope="session")
def kernel_server(kernel_start: Callable[[KernelSettings], KernelServer],
                  kernel_settings: KernelSettings) -> KernelServer:
    """The running kernel for the session, with the manifests applied. Override it in a
    conftest.py for other settings in a directory:
    ``return kernel_start(kernel_settings.replace(manifests=[...]))``."""
    return kernel_start(kernel_settings)


@pytest.fixture
def kernel_kubeconfig(kernel_server: KernelServer) -> str:
    """Path of an admin (system:masters) kubeconfig for the server: for kubectl, operators."""
    return kernel_server.kubeconfig


@pytest.fixture
def kernel_httpx(kernel_server: KernelServer) -> Any:
    """An ``httpx.Client`` with base_url, CA and admin token set."""
    return kernel_server.httpx


@pytest.fixture
def kernel_api_client(kernel_server: KernelServer) -> Any:
    """A ``kubernetes.client.ApiClient`` for the server."""
    return kernel_server.api_client


@pytest.fixture
def kernel_core_v1(kernel_api_client: Any) -> Any:
    """``kubernetes.client.CoreV1Api`` on the server."""
    from kubernetes import client

    return client.CoreV1Api(kernel_api_client)


@pytest.fixture
def kernel_custom_objects(kernel_api_client: Any) -> Any:
    """``kubernetes.client.CustomObjectsApi`` on the server (custom resources)."""
    from kubernetes import client

    return client.CustomObjectsApi(kernel_api_client)


@pytest.fixture
def kernel_dynamic_client(kernel_api_client: Any) -> Any:
    """``kubernetes.dynamic.DynamicClient`` on the server (discovery on creation)."""
    from kubernetes import dynamic

    return dynamic.DynamicClient(kernel_api_client)


def namespace_name(nodeid: str) -> str:
    """A DNS label from the test's name, unique: ``test-foo-bar-3fa9c``."""
    base = re.sub(r"[^a-z0-9]+", "-", nodeid.rsplit("::", 1)[-1].lower()).strip("-")
    return f"{base[:50].strip('-') or 'test'}-{secrets.token_hex(3)}"


@pytest.fixture
def kernel_namespace(kernel_server: KernelServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of the test's own, deleted (with everything in it) after the test."""
    name = namespace_name(request.node.nodeid)
    response = kernel_server.httpx.post("/api/v1/namespaces",
                                        json={"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": name}})
    assert response.status_code == 201, f"creating namespace {name}: {response.text}"
    yield name
    response = kernel_server.httpx.delete(f"/api/v1/namespaces/{name}")
    assert response.status_code in (200, 202, 404), f"deleting namespace {name}: {response.text}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """Note where each running server's log stands as the test starts (a server started by
    this test's setup starts at 0)."""
    before = {id(server): server.log_size() for server in item.config.stash[SERVERS].values()}
    try:
        return (yield)
    finally:
        server = getattr(item, "funcargs", {}).get("kernel_server")
        if isinstance(server, KernelServer):
            item.stash[LOG_OFFSET] = (server, before.get(id(server), 0))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failing test's report gets the server log written since the test started."""
    report = yield
    entry = item.stash.get(LOG_OFFSET, None)
    if entry is not None and report.failed:
        server, offset = entry
        text = server.log(offset)
        if len(text) > LOG_TAIL:
            text = f"[... {len(text) - LOG_TAIL} characters before]\n{text[-LOG_TAIL:]}"
        report.sections.append((f"Captured kernel log {report.when}", text or "(empty)\n"))
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    for server in config.stash.get(SERVERS, {}).values():
        terminalreporter.write_line(
            f"kernel: {server.url} ready in {server.startup_seconds:.2f}s "
            f"(plugins {','.join(server.settings.selected_plugins())}, "
            f"storage {server.settings.storage}); log: {server.log_path}")
