"""Secure defaults: --authorization-mode is Node,RBAC as far as selected plugins provide them,
else AlwaysAllow with a loud warning and a loopback --bind-address; ``kernel plugins`` shows the
same chain ``kernel serve`` builds."""

from __future__ import annotations

import re
import ssl
import subprocess
import time
import types
from pathlib import Path

import httpx
import pytest

from kernel import app, hookimpl
from kernel.plugins import PluginInfo, PluginManager
from kernel.testing import KERNEL
from tests.conftest import plugin_env, run_kernel

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}


def _mode_plugin(name: str, *modes: str) -> PluginInfo:
    module = types.ModuleType(name)

    @hookimpl
    def kernel_authorizers():
        return {mode: (lambda context: None) for mode in modes}

    module.kernel_authorizers = kernel_authorizers  # type: ignore[attr-defined]
    return PluginInfo(name, "test", "0", module)


def _options(*plugins: PluginInfo, argv: tuple[str, ...] = ()):
    run_options = app.ServerRunOptions(app.build_options(["--plugins="]).option_set,
                                       PluginManager(plugins))
    options, errors = app.parse(run_options, list(argv))
    assert not errors, errors
    return options


@pytest.mark.parametrize(("provided", "expected"), [
    ((), ["AlwaysAllow"]),
    (("RBAC",), ["RBAC"]),
    (("Node",), ["AlwaysAllow"]),  # Node alone is no policy: it only knows nodes
    (("Webhook", "RBAC", "Node"), ["Node", "RBAC"]),
])
def test_default_mode_is_node_rbac_as_far_as_provided(provided, expected) -> None:
    plugins = [_mode_plugin(f"p{i}", mode) for i, mode in enumerate(provided)]
    options = _options(*plugins)
    assert options.authorization_mode == expected and options.authorization_mode_defaulted
    assert options.bind_address == ("127.0.0.1" if expected == ["AlwaysAllow"] else "0.0.0.0")


def test_given_flags_win() -> None:
    rbac = _mode_plugin("rbac", "RBAC")
    options = _options(rbac, argv=("--authorization-mode=AlwaysAllow",))
    assert options.authorization_mode == ["AlwaysAllow"] and not options.authorization_mode_defaulted
    assert options.bind_address == "0.0.0.0"  # kube's default when the mode is chosen
    options = _options(argv=("--bind-address=0.0.0.0",))
    assert options.authorization_mode == ["AlwaysAllow"] and options.bind_address == "0.0.0.0"
    options = _options(argv=("--bind-address=127.0.0.2",))
    assert options.bind_address == "127.0.0.2"


def test_an_authorization_config_file_is_left_to_name_the_chain() -> None:
    # --authorization-config replaces --authorization-mode: no default then.
    option_set = app.build_options(["--plugins="]).option_set
    run_options = app.ServerRunOptions(option_set, PluginManager([_mode_plugin("rbac", "RBAC")]))
    options, errors = app.parse(run_options, ["--authorization-config=/some/file.yaml"])
    assert not errors and not options.authorization_mode_defaulted
    assert options.bind_address == "0.0.0.0"


def test_kernel_plugins_shows_the_resolved_chain(test_plugins_path: str) -> None:
    env = plugin_env(test_plugins_path)
    trimmed = run_kernel("plugins", "--plugins=api_core,storage_memory", env=env)
    assert trimmed.returncode == 0, trimmed.stderr
    assert ("authorization: privileged group system:masters, AlwaysAllow (default; no "
            "--authorization-mode)") in trimmed.stdout
    assert "warning: INSECURE DEFAULT: no selected plugin provides the RBAC authorization mode" in trimmed.stdout
    secure = run_kernel("plugins", "--plugins=api_core,storage_memory,api_rbac,authz_rbac,authz_node", env=env)
    assert "authorization: privileged group system:masters, Node, RBAC (default" in secure.stdout
    assert "INSECURE" not in secure.stdout
    rbac_only = run_kernel("plugins", "--plugins=api_core,storage_memory,api_rbac,authz_rbac", env=env)
    assert "authorization: privileged group system:masters, RBAC (default" in rbac_only.stdout
    chosen = run_kernel("plugins", "--plugins=api_core,storage_memory,api_rbac,authz_rbac",
                        "--authorization-mode=RBAC,AlwaysAllow", env=env)
    assert "authorization: privileged group system:masters, RBAC, AlwaysAllow\n" in chosen.stdout


class Served:
    """``kernel serve`` started without --bind-address (start_kernel always passes one)."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *args: str) -> None:
        self.dir = tmp_path
        self.log_path = tmp_path / "kernel.log"
        self.kubeconfig = tmp_path / "kubeconfig"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [KERNEL, "serve", "--secure-port=0", f"--cert-dir={tmp_path / 'certs'}",
                 f"--write-kubeconfig={self.kubeconfig}", *args],
                stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + 30
        while not self.kubeconfig.exists():
            assert self.process.poll() is None and time.monotonic() < deadline, self.log()
            time.sleep(0.02)
        found = re.search(r"Serving securely on (\S+):(\d+)", self.log())
        assert found, self.log()
        self.bind_address, self.port = found.group(1), int(found.group(2))
        self.token = re.search(r'"token": "([^"]+)"', self.kubeconfig.read_text()).group(1)  # type: ignore[union-attr]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, token: str | None = None) -> httpx.Client:
        # Always over loopback, whatever the server listens on.
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"https://127.0.0.1:{self.port}", headers=headers, timeout=30,
                            verify=ssl.create_default_context(cafile=str(self.dir / "certs" / "ca.crt")))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def test_trimmed_build_warns_and_listens_on_loopback_only(tmp_path: Path) -> None:
    served = Served(tmp_path, None, "--plugins=api_core,storage_memory")
    try:
        assert served.bind_address == "127.0.0.1"
        warning = [line for line in served.log().splitlines() if "INSECURE DEFAULT" in line]
        assert len(warning) == 1 and warning[0].startswith("W"), served.log()
        assert "--authorization-mode defaults to AlwaysAllow" in warning[0]
        assert "install and select plugins/authz_rbac" in warning[0]
        assert "authorization chain: privileged group system:masters, AlwaysAllow" in served.log()
    finally:
        served.stop()


def test_with_rbac_anonymous_writes_are_refused_and_the_admin_works(
        tmp_path: Path, test_plugins_path: str) -> None:
    served = Served(tmp_path, plugin_env(test_plugins_path),
                    "--plugins=api_core,storage_memory,api_rbac,authz_rbac,authz_node")
    try:
        assert served.bind_address == "0.0.0.0"  # kube's default once a policy decides
        assert "INSECURE" not in served.log()
        assert "authorization chain: privileged group system:masters, Node, RBAC" in served.log()
        with served.client() as anonymous:
            response = anonymous.post("/api/v1/namespaces/default/secrets", json=SECRET)
            assert response.status_code == 403, response.text
            assert response.json()["message"] == (
                'secrets is forbidden: User "system:anonymous" cannot create resource "secrets" in '
                'API group "" in the namespace "default"')
            assert anonymous.get("/api/v1/namespaces/default/secrets").status_code == 403
        with served.client(served.token) as admin:  # the admin kubeconfig: system:masters
            assert admin.post("/api/v1/namespaces/default/secrets", json=SECRET).status_code == 201
            assert admin.get("/api/v1/namespaces/default/secrets/s").status_code == 200
        home = tmp_path / "home"
        listed = subprocess.run(["/usr/bin/kubectl", "--kubeconfig", str(served.kubeconfig), "get",
                                 "secrets", "-o", "name"], capture_output=True, text=True, timeout=60,
                                env={"PATH": "/usr/bin:/bin", "HOME": str(home),
                                     "KUBECACHEDIR": str(home / "cache")})
        assert listed.stdout.split() == ["secret/s"], listed.stderr
    finally:
        served.stop()
