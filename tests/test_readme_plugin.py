"""The README's plugin example works as written: its code blocks, pip-installed into a directory
of their own, make a plugin that ``kernel serve`` loads and authenticates requests with."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import plugin_env, run_kernel

from kernel.testing.contracts import AuthenticatorContract

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def readme_files() -> dict[str, str]:
    """Code blocks of "Writing a plugin" whose first line is a ``# <file name>`` comment."""
    section = README[README.index("## Writing a plugin"):README.index("### Hooks")]
    files = {}
    for block in re.findall(r"```(?:toml|python)\n(.*?)```", section, re.S):
        first, _, _ = block.partition("\n")
        if first.startswith("# ") and "." in first:
            files[first[2:].strip()] = block
    return files


@pytest.fixture(scope="module")
def readme_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    source, target = tmp_path_factory.mktemp("readme-plugin"), tmp_path_factory.mktemp("site")
    files = readme_files()
    assert set(files) == {"pyproject.toml", "kernel_authn_header.py", "test_authn_header.py"}
    for name, text in files.items():
        (source / name).write_text(text)  # the test file stays out of the install (py-modules)
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    return str(target)


def test_the_readme_plugin_is_listed_with_its_version(readme_plugin_path):
    result = run_kernel("plugins", "--plugins=authn_header", env=plugin_env(readme_plugin_path))
    assert result.returncode == 0, result.stderr
    assert "authn_header  (plugin; kernel-authn-header 0.1.0)" in result.stdout
    assert "flags: --header-user" in result.stdout
    assert "not configured: header (needs --header-user)" in result.stdout


def test_the_readme_plugin_authenticates_by_a_header_in_any_case(kernel_process, readme_plugin_path):
    kernel = kernel_process("--plugins=api_core,storage_memory,api_authentication,authn_header",
                            "--header-user=X-Remote-User", env=plugin_env(readme_plugin_path))
    assert "authentication chain: loopback, header, anonymous" in kernel.log()
    with kernel.client(token=None) as client:
        # The flag names the header in mixed case; HTTP delivers it lower-cased.
        me = client.post(WHOAMI, json=REVIEW, headers={"X-Remote-User": "alice"})
        assert me.status_code == 201, me.text
        assert me.json()["status"]["userInfo"] == {
            "username": "alice", "groups": ["header-users", "system:authenticated"]}
        anonymous = client.post(WHOAMI, json=REVIEW)
        assert anonymous.json()["status"]["userInfo"]["username"] == "system:anonymous"
        refused = client.post(WHOAMI, json=REVIEW, headers={"x-remote-user": "system:admin"})
        assert refused.status_code == 401
        assert refused.json()["reason"] == "Unauthorized"
    assert "X-Remote-User: refusing user 'system:admin'" in kernel.log()


def test_the_readme_contract_suite_passes_on_the_readme_plugin(tmp_path, readme_plugin_path):
    """The "Contract suites" example, run by pytest as a plugin author would, against the
    installed plugin (each of its tests passes, none is skipped)."""
    (tmp_path / "test_authn_header.py").write_text(readme_files()["test_authn_header.py"])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "test_authn_header.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=plugin_env(readme_plugin_path))
    assert result.returncode == 0, result.stdout + result.stderr
    count = len([name for name in dir(AuthenticatorContract) if name.startswith("test_")])
    assert re.search(rf"\b{count} passed\b", result.stdout) and "skipped" not in result.stdout, result.stdout
