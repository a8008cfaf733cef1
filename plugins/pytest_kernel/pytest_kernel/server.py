"""One ``kernel serve`` subprocess per distinct :class:`KernelSettings`, started on first use.

Built on :func:`kernel.testing.start_kernel`: a free loopback port, a self-signed CA, an admin
(system:masters) kubeconfig, the log in a file. The pytest fixtures hand out the clients.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from kernel.testing import KernelProcess, start_kernel

DEFAULT_PLUGINS = ("api_core", "api_apiextensions", "storage_memory")
STORAGES = ("memory", "etcd")
READY_TIMEOUT = 30.0


def installed_plugins() -> set[str]:
    return {ep.name for ep in entry_points(group="kernel.plugins")}


@dataclass(frozen=True)
class KernelSettings:
    """What server a test gets: the same settings share one server for the whole session."""

    plugins: tuple[str, ...] = DEFAULT_PLUGINS
    manifests: tuple[Path, ...] = ()
    storage: str = "memory"
    args: tuple[str, ...] = ()
    # Without an explicit list, plugins of the default list that are not installed are left out
    # (api_apiextensions comes with CRD support); a list the user gave is passed on as it is.
    explicit_plugins: bool = False

    def replace(self, **changes: Any) -> KernelSettings:
        """A copy with some fields changed (``manifests=[...]`` in a conftest override)."""
        if "manifests" in changes:
            changes["manifests"] = tuple(Path(p) for p in changes["manifests"])
        if "plugins" in changes:
            changes.setdefault("explicit_plugins", True)
            changes["plugins"] = tuple(changes["plugins"])
        return dataclasses.replace(self, **changes)

    def selected_plugins(self) -> list[str]:
        plugins = list(self.plugins)
        if not self.explicit_plugins:
            available = installed_plugins()
            plugins = [name for name in plugins if name in available]
        if self.storage == "etcd":
            plugins = [name for name in plugins if name != "storage_memory"]
            plugins += [] if "storage_etcd3" in plugins else ["storage_etcd3"]
        return plugins

    def serve_args(self, etcd_url: str | None) -> list[str]:
        args = [f"--plugins={','.join(self.selected_plugins())}", "-v=2"]
        if etcd_url:
            args += ["--storage-backend=etcd3", f"--etcd-servers={etcd_url}"]
        return args + list(self.args)


@dataclass
class KernelServer:
    """A running kernel: URL, admin token, CA, kubeconfig, log, and cached clients."""

    settings: KernelSettings
    process: KernelProcess
    startup_seconds: float  # from the fixture asking for it to /readyz answering 200
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def token(self) -> str:
        return self.process.token

    @property
    def ca_file(self) -> str:
        return self.process.ca_file

    @property
    def kubeconfig(self) -> str:
        return self.process.kubeconfig

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log(self, offset: int = 0) -> str:
        """The server log from byte ``offset`` on."""
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def kubectl(self, *args: str, **kwargs: Any) -> Any:
        """``/usr/bin/kubectl`` with this server's kubeconfig (and a discovery cache of its own)."""
        return self.process.kubectl(*args, **kwargs)

    @cached_property
    def httpx(self) -> Any:
        """An ``httpx.Client`` with the admin token, verifying the server's CA."""
        client = self.process.client(timeout=30)
        self.stack.callback(client.close)
        return client

    @cached_property
    def api_client(self) -> Any:
        """A ``kubernetes.client.ApiClient`` configured from the kubeconfig."""
        from kubernetes import config

        client = config.new_client_from_config(config_file=self.kubeconfig)
        self.stack.callback(client.close)
        return client

    def stop(self) -> int:
        try:
            self.stack.close()
        finally:
            code = self.process.stop()
        return code


def wait_ready(process: KernelProcess, timeout: float = READY_TIMEOUT) -> None:
    """Poll /readyz briefly apart: the server is usually ready within milliseconds of
    writing its kubeconfig, so a coarse interval would dominate the startup."""
    deadline = time.monotonic() + timeout
    with process.client(timeout=5) as client:
        while client.get("/readyz").status_code != 200:
            if process.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kernel never became ready:\n{process.log()[-8000:]}")
            time.sleep(0.005)


def start_server(settings: KernelSettings, workdir: Path) -> KernelServer:
    """Start a server (and etcd first, with ``storage="etcd"``), ready to serve."""
    if settings.storage not in STORAGES:
        raise ValueError(f"kernel storage {settings.storage!r}: must be one of {', '.join(STORAGES)}")
    stack = contextlib.ExitStack()
    try:
        etcd_url = None
        if settings.storage == "etcd":
            from kernel_storage_etcd3.testing import etcd_server

            etcd_url = stack.enter_context(etcd_server()).url
        started = time.perf_counter()
        process = start_kernel(workdir, *settings.serve_args(etcd_url), wait_ready=False)
        stack.callback(process.stop)
        wait_ready(process)
        server = KernelServer(settings, process, time.perf_counter() - started)
    except BaseException:
        stack.close()
        raise
    server.stack.push(stack)
    return server
