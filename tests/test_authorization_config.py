"""--authorization-config (kernel/server/authorizationconfig.py): the chain from kube's
AuthorizationConfiguration file instead of --authorization-mode, built by each mode's factory
with the entry in ``context.authorizer_config``; bad files are refused with kube's messages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kernel import app
from kernel.authentication.user import UserInfo
from kernel.authorization import Attributes, Decision
from kernel.server import authorizationconfig
from kernel.testing import KERNEL, assemble

FILE = """apiVersion: apiserver.config.k8s.io/v1
kind: AuthorizationConfiguration
authorizers:
- {type: AlwaysDeny, name: alwaysdeny}
- {type: AlwaysAllow, name: alwaysallow}
"""


def write(tmp_path: Path, text: str = FILE) -> Path:
    path = tmp_path / "authz.yaml"
    path.write_text(text)
    return path


@pytest.mark.trio
async def test_the_chain_is_the_file_in_its_order(tmp_path: Path) -> None:
    server = assemble(tmp_path, "--plugins=", f"--authorization-config={write(tmp_path)}")
    assert server.authorizer.names == ["AlwaysDeny", "AlwaysAllow"]
    # AlwaysDeny says NoOpinion, so AlwaysAllow decides.
    decision, _ = await server.authorizer.authorize(Attributes(UserInfo("jane"), "get", False, "/x"))
    assert decision is Decision.ALLOW
    assert server.authorizer_config is None  # only set while a factory runs


def test_without_the_file_the_modes_are_the_chain() -> None:
    config = authorizationconfig.from_modes(["Node", "RBAC", "Webhook"])
    assert [(e.type, e.name, e.label) for e in config.authorizers] == [
        ("Node", "node", "Node"), ("RBAC", "rbac", "RBAC"), ("Webhook", "default", "Webhook")]


def errors(tmp_path: Path, *argv: str) -> list[str]:
    run_options = app.build_options(list(argv))
    options, found = app.parse(run_options, list(argv))
    return found + app.validate(run_options, options)


def test_mutually_exclusive_with_authorization_mode(tmp_path: Path) -> None:
    assert errors(tmp_path, "--plugins=", f"--authorization-config={write(tmp_path)}",
                  "--authorization-mode=AlwaysAllow") == [
        "--authorization-config can not be specified when --authorization-mode or "
        "--authorization-webhook-* flags are defined"]


def test_a_type_no_selected_plugin_provides_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, FILE.replace("AlwaysDeny, name: alwaysdeny", "RBAC, name: rbac"))
    assert errors(tmp_path, "--plugins=", f"--authorization-config={path}")[0] == (
        '--authorization-config: authorizers[0].type: Unsupported value: "RBAC": supported values: '
        '"AlwaysAllow", "AlwaysDeny"')


def test_kernel_plugins_and_serve_show_or_refuse_the_file(tmp_path: Path) -> None:
    listed = subprocess.run([KERNEL, "plugins", "--plugins=", f"--authorization-config={write(tmp_path)}"],
                            capture_output=True, text=True, timeout=60)
    assert "authorization: privileged group system:masters, AlwaysDeny, AlwaysAllow" in listed.stdout
    bad = write(tmp_path, "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\n"
                          "authorizers: [{type: AlwaysAllow}]\n")
    served = subprocess.run([KERNEL, "serve", "--plugins=", f"--authorization-config={bad}",
                             f"--cert-dir={tmp_path / 'certs'}"], capture_output=True, text=True, timeout=60)
    assert served.returncode == 1
    assert "--authorization-config: authorizers[0].name: Required value" in served.stderr


@pytest.mark.trio
async def test_a_reloaded_file_may_reorder_but_not_add_or_drop_modes(tmp_path: Path) -> None:
    from kernel.server.authorizers import _apply

    server = assemble(tmp_path, "--plugins=", f"--authorization-config={write(tmp_path)}")
    deny, allow = (a for _, a in server.authorizer.authorizers)
    await _apply(server, FILE.replace("AlwaysDeny, name: alwaysdeny", "X").replace(
        "AlwaysAllow, name: alwaysallow", "AlwaysDeny, name: alwaysdeny").replace(
        "X", "AlwaysAllow, name: alwaysallow").encode())
    assert server.authorizer.names == ["AlwaysAllow", "AlwaysDeny"]
    assert [a for _, a in server.authorizer.authorizers] == [allow, deny]  # the startup ones, kept
    only_allow = "\n".join(line for line in FILE.splitlines() if "AlwaysDeny" not in line)
    with pytest.raises(authorizationconfig.ConfigError, match=r"missing required types: \[AlwaysDeny\]"):
        await _apply(server, only_allow.encode())
    assert server.authorizer.names == ["AlwaysAllow", "AlwaysDeny"]
