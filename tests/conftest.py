"""Shared fixtures: the kernel in-process (trio) or as the ``kernel`` command, and its clients."""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio

from kernel import app
from kernel.server.genericapiserver import APIServer, create_server_chain, prepare_run, run
from kernel.testing import KERNEL, KernelProcess, install_into, start_kernel

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def test_plugins_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test plugins pip-installed into a directory of their own (real entry points).

    Put it on PYTHONPATH for a ``kernel`` subprocess to discover them; the test run's own
    environment stays without them.
    """
    target = tmp_path_factory.mktemp("test-plugins")
    install_into(FIXTURES / "kernel-test-plugins", target)
    return str(target)


def plugin_env(test_plugins_path: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [test_plugins_path, env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_kernel(*args: str, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KERNEL, *args], capture_output=True, text=True, env=env, timeout=timeout)


Running = KernelProcess  # the name the kernel's tests use for a `kernel serve` subprocess


@pytest.fixture
def kernel_process(tmp_path: Path) -> Iterator:
    """Start ``kernel serve`` subprocesses; all are stopped after the test."""
    started: list[Running] = []

    def start(*args: str, **kwargs) -> Running:
        running = start_kernel(tmp_path, *args, **kwargs)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def build_server(tmp_path: Path, args: Sequence[str] = ()) -> APIServer:
    """Parse, validate, complete and assemble a server in this process (built-ins only)."""
    # In-process servers are ephemeral (a test may start several in one tmp_path): memory storage
    # unless the test names a backend, rather than the installed default (storage_sqlite).
    backend = [] if any(a.startswith("--storage-backend") for a in args) else ["--storage-backend=memory"]
    argv = ["--secure-port=0", "--bind-address=127.0.0.1", f"--cert-dir={tmp_path / 'certs'}",
            f"--data-dir={tmp_path / 'data'}", *backend, *args]
    run_options = app.build_options(argv)
    options, errors = app.parse(run_options, argv)
    errors += app.validate(run_options, options)
    assert not errors, errors
    app.complete(run_options, options)
    return prepare_run(create_server_chain(options, run_options.plugins))


@dataclass
class InProcess:
    server: APIServer

    @property
    def ca_file(self) -> str:
        return self.server.options.serving.ca_file

    def client(self, token: str | None = "", **kwargs) -> httpx.AsyncClient:
        """An httpx client for the server; the admin (loopback) token unless ``token`` is given."""
        token = self.server.options.loopback_token if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.server.url, verify=ssl.create_default_context(cafile=self.ca_file), headers=headers, **kwargs)


@pytest.fixture
def kernel_in_process(tmp_path: Path, nursery: trio.Nursery):
    """``await kernel_in_process(*flags)`` starts a server in the test's nursery."""

    async def start(*args: str, ready: bool = True) -> InProcess:
        """Start it; with ``ready``, return once /readyz passes (post-start hooks such as RBAC's
        bootstrap policy are done, so anonymous and token users see the policy)."""
        server = build_server(tmp_path, args)
        await nursery.start(lambda task_status: run(server, handle_signals=False, task_status=task_status))
        kernel = InProcess(server)
        if ready:
            async with kernel.client(timeout=HANG_GUARD) as admin:
                with trio.fail_after(HANG_GUARD):
                    while (await admin.get("/readyz")).status_code != 200:
                        await trio.sleep(0.02)
        return kernel

    return start


# --- the REST-semantics tests (tests/e2e/test_rest_*.py) -------------------------------------

HANG_GUARD = 20  # seconds; never a speed assertion, only so a broken server fails instead of hanging


@dataclass
class Api:
    """A started in-process kernel (every installed plugin: api_core on storage_memory) whose
    post-start hooks are done (default namespaces exist), and an admin httpx client for it."""

    kernel: InProcess
    client: httpx.AsyncClient

    @property
    def server(self) -> APIServer:
        return self.kernel.server

    async def namespace(self, name: str) -> dict:
        response = await self.client.post("/api/v1/namespaces", json={"metadata": {"name": name}})
        assert response.status_code == 201, response.text
        return response.json()

    async def configmap(self, ns: str, name: str, data: dict | None = None, **metadata) -> dict:
        body: dict = {"metadata": {"name": name, **metadata}}
        if data is not None:
            body["data"] = data
        response = await self.client.post(f"/api/v1/namespaces/{ns}/configmaps", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def get(self, path: str) -> dict:
        response = await self.client.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    async def rv(self, path: str) -> int:
        """The list resourceVersion of ``path`` now."""
        return int((await self.get(path))["metadata"]["resourceVersion"])


# The REST-semantics tests use configmaps in ``default`` as their generic kind and count on a
# namespace holding only what they put there, as kube's apiserver integration tests (no
# controller-manager) do: so no root-CA publisher. A later ``--controllers`` flag overrides this.
BARE_NAMESPACES = "--controllers=*,-root-ca-certificate-publisher-controller"


@pytest.fixture
async def start_api(kernel_in_process):
    """``await start_api(*flags)``: an :class:`Api` on a kernel started with ``flags``."""
    clients: list[httpx.AsyncClient] = []

    async def start(*flags: str) -> Api:
        kernel = await kernel_in_process(BARE_NAMESPACES, *flags)
        client = kernel.client(timeout=HANG_GUARD)
        clients.append(client)
        return Api(kernel, client)

    yield start
    for client in clients:
        await client.aclose()


@pytest.fixture
async def api(start_api) -> Api:
    return await start_api()
