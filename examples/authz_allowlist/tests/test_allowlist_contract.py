"""The kernel's authorizer contract suite against the Allowlist mode."""

from __future__ import annotations

import pytest

from kernel.authorization import Decision
from kernel.testing.contracts import AuthorizerContract, Case, non_resource, resource

pytest.importorskip("kernel_authz_allowlist", reason="the example is tested installed: .ci/run pip-installs it")

from kernel_authz_allowlist.allowlist import AllowlistAuthorizer, parse

ALLOWLIST = """
users:
  jane:
    - verbs: [get, list]
      resources: [configmaps, pods/log]
    - verbs: [get]
      nonResourceURLs: [/version, /apis/*]
  bob:
    - verbs: ["*"]
      resources: ["*"]
"""


class TestAllowlistContract(AuthorizerContract):
    plugin, mode = "authz_allowlist", "Allowlist"

    @pytest.fixture
    def authorizer(self) -> AllowlistAuthorizer:
        return AllowlistAuthorizer(parse(ALLOWLIST, "allowlist.yaml"))

    @pytest.fixture
    def kernel_args(self, tmp_path) -> list[str]:
        (tmp_path / "allowlist.yaml").write_text(ALLOWLIST)
        return [f"--allowlist-file={tmp_path / 'allowlist.yaml'}"]

    @pytest.fixture
    def cases(self) -> list[Case]:
        allow, none = Decision.ALLOW, Decision.NO_OPINION
        return [
            Case(resource("jane", "get", "configmaps", namespace="default", name="x"), allow),
            Case(resource("jane", "list", "configmaps", namespace="default"), allow),
            Case(resource("jane", "delete", "configmaps", namespace="default", name="x"), none),
            Case(resource("jane", "create", "configmaps", namespace="default"), none),
            Case(resource("jane", "get", "pods", namespace="default", name="p", subresource="log"), allow),
            Case(resource("jane", "get", "pods", namespace="default", name="p"), none),
            Case(resource("jane", "get", "pods", namespace="default", name="p", subresource="exec"), none),
            Case(non_resource("jane", "get", "/version"), allow),
            Case(non_resource("jane", "get", "/apis/apps"), allow),
            Case(non_resource("jane", "get", "/metrics"), none),
            Case(non_resource("jane", "post", "/version"), none),
            Case(resource("bob", "delete", "secrets", namespace="default", name="s"), allow),
            Case(non_resource("bob", "get", "/version"), none),
            Case(resource("mallory", "get", "configmaps", namespace="default", name="x"), none),
        ]
