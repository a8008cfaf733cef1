"""``kernel serve`` as a subprocess for tests and benchmarks: a real API server in a few lines.

    kernel = start_kernel(tmp_path, "--plugins=api_core,storage_memory")
    with kernel.client() as client:             # httpx over TLS, with the admin token
        client.get("/api/v1/namespaces")
    kernel.kubectl("get", "configmaps")          # kubectl with the kernel's kubeconfig
    kernel.stop()                                # SIGTERM; returns the exit code

The kernel's own tests, the plugins' tests and ``bench/`` all start servers this way; operator
authors can do the same in theirs. :mod:`kernel.testing.contracts` holds the contract suites a
plugin author runs against a plugin (imported on its own: it needs pytest).
"""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KERNEL = str(Path(sys.executable).with_name("kernel"))
KUBECTL = "/usr/bin/kubectl"
START_TIMEOUT = 30.0


@dataclass
class KernelProcess:
    """A ``kernel serve`` subprocess that wrote its admin kubeconfig."""

    process: subprocess.Popen[str]
    url: str
    token: str  # the loopback (system:masters) token of the kubeconfig
    ca_file: str
    kubeconfig: str
    log_path: Path
    home: Path  # HOME and KUBECACHEDIR of kubectl: no discovery cache shared between servers

    def client(self, token: str | None = "", **kwargs: Any) -> Any:
        """An httpx.Client for the server: the admin token by default, ``None`` for none."""
        import httpx

        token = self.token if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers,
                            verify=ssl.create_default_context(cafile=self.ca_file), **kwargs)

    @property
    def kubectl_env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home), "KUBECACHEDIR": str(self.home / "cache")}

    def kubectl(self, *args: str, check: bool = True, timeout: float = 60,
                input: str | None = None, env: dict[str, str] | None = None,
                ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig, *args], input=input,
                                capture_output=True, text=True, timeout=timeout,
                                env={**self.kubectl_env, **(env or {})})
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}\n"
                                 f"{result.stderr}\n{self.log()[-6000:]}")
        return result

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with self.client(timeout=5) as client:
            while client.get("/readyz").status_code != 200:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"kernel never became ready:\n{self.log()}")
                time.sleep(0.02)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def start_kernel(workdir: Path, *args: str, env: dict[str, str] | None = None,
                 cert_dir: Path | None = None, wait_ready: bool = True,
                 command_prefix: Sequence[str] = (), append_log: bool = False,
                 command: Sequence[str] = (KERNEL,)) -> KernelProcess:
    """Start ``kernel serve`` on a free loopback port with its files in ``workdir``.

    Returns once the kubeconfig is written and, with ``wait_ready``, /readyz answers 200.
    ``command_prefix`` runs it under another command (``taskset -c 0``); ``append_log`` keeps
    the log of an earlier server in the same ``workdir`` (restarts); ``command`` is what runs
    ``serve`` (another venv's ``kernel``, ``python3 kernel.pyz``).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    kubeconfig, log_path = workdir / "kubeconfig", workdir / "kernel.log"
    cert_dir = cert_dir or workdir / "certs"
    if kubeconfig.exists():
        kubeconfig.unlink()
    with open(log_path, "a" if append_log else "w") as log:
        process = subprocess.Popen(
            [*command_prefix, *command, "serve", "--secure-port=0", "--bind-address=127.0.0.1",
             f"--cert-dir={cert_dir}", f"--data-dir={workdir / 'data'}",
             f"--write-kubeconfig={kubeconfig}", *args],
            stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + START_TIMEOUT
    while not kubeconfig.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"kernel did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.02)
    text = kubeconfig.read_text()
    url = re.search(r'"server": "([^"]+)"', text).group(1)  # type: ignore[union-attr]
    token = re.search(r'"token": "([^"]+)"', text).group(1)  # type: ignore[union-attr]
    kernel = KernelProcess(process, url, token, str(cert_dir / "ca.crt"), str(kubeconfig),
                           log_path, workdir / "home")
    if wait_ready:
        kernel.wait_ready()
    return kernel


def install_into(source: Path, target: Path) -> None:
    """pip-install the project at ``source`` (without its dependencies) into the directory
    ``target``, for a ``kernel`` subprocess to find on ``PYTHONPATH`` (real entry points). It is
    built from a copy (:func:`kernel.bundle.copy_source_tree`), so two pytest-xdist workers
    installing the same source at once do not trip over each other's build files."""
    from kernel.bundle import copy_source_tree  # kernel imports stay in functions here (as assemble)

    with tempfile.TemporaryDirectory(prefix="kernel-install-") as tmp:
        copy = copy_source_tree(source, Path(tmp))
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-build-isolation", "--target", str(target), str(copy)],
                       check=True, capture_output=True)


def assemble(workdir: Path, *args: str) -> Any:
    """A real :class:`kernel.server.genericapiserver.APIServer` built in this process from ``kernel serve`` flags
    (parse → validate → complete → create_server_chain), not serving: for tests of a plugin's
    factories and hooks, which get its ``server.context``."""
    from kernel import app
    from kernel.server.genericapiserver import create_server_chain

    argv = ["--secure-port=0", "--bind-address=127.0.0.1", f"--cert-dir={workdir / 'certs'}",
            f"--data-dir={workdir / 'data'}", *args]
    run_options = app.build_options(argv)
    options, errors = app.parse(run_options, argv)
    errors += app.validate(run_options, options)
    if errors:
        raise ValueError("; ".join(errors))
    app.complete(run_options, options)
    return create_server_chain(options, run_options.plugins)
