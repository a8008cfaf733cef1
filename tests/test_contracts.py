"""The authorizer contract suite (kernel.testing.contracts) against the test fixture plugins'
modes AlphaAllow and AlphaDeny (tests/fixtures/kernel-test-plugins), served from their
pip-installed copy."""

from __future__ import annotations

import importlib

import pytest

from kernel.authentication import ANONYMOUS, UserInfo
from kernel.authorization import Decision
from kernel.testing.contracts import AuthorizerContract, Case, non_resource, resource

from conftest import plugin_env

ALLOW, DENY, NO_OPINION = Decision.ALLOW, Decision.DENY, Decision.NO_OPINION


@pytest.fixture
def alpha(test_plugins_path: str, monkeypatch: pytest.MonkeyPatch):
    """The module kernel serve loads as test_alpha, imported from the same installed copy."""
    monkeypatch.syspath_prepend(test_plugins_path)
    return importlib.import_module("kernel_test_plugins.alpha")


def alpha_cases(decision: Decision) -> list[Case]:
    """Alpha's requests get ``decision``; everyone else's no opinion."""
    bob = UserInfo("bob", groups=("dev",))
    return [
        Case(resource("alpha", "get", "pods", namespace="dev", name="web"), decision),
        Case(resource("alpha", "list", "configmaps"), decision),
        Case(resource("alpha", "get", "pods", namespace="dev", name="web", subresource="log"), decision),
        Case(resource("alpha", "create", "widgets", api_group="alpha.test.kernel.dev"), decision),
        Case(non_resource("alpha", "get", "/metrics"), decision),
        Case(resource(bob, "delete", "pods", namespace="dev", name="web"), NO_OPINION),
        Case(resource(bob, "update", "pods", namespace="dev", name="web", subresource="status"), NO_OPINION),
        Case(non_resource(bob, "get", "/metrics"), NO_OPINION),
        Case(resource(UserInfo(ANONYMOUS, groups=("system:unauthenticated",)), "list", "secrets"),
             NO_OPINION),
    ]


class FixturePluginServer:
    plugin = "test_alpha"

    @pytest.fixture
    def kernel_env(self, test_plugins_path: str) -> dict[str, str]:
        return plugin_env(test_plugins_path)

    @pytest.fixture
    def kernel_args(self) -> list[str]:
        return ["--storage-backend=alpha-dict"]


class TestAlphaAllowContract(FixturePluginServer, AuthorizerContract):
    mode = "AlphaAllow"

    @pytest.fixture
    def authorizer(self, alpha):
        return alpha.AlphaAllow()

    @pytest.fixture
    def cases(self) -> list[Case]:
        return alpha_cases(ALLOW)


class TestAlphaDenyContract(FixturePluginServer, AuthorizerContract):
    mode = "AlphaDeny"

    @pytest.fixture
    def authorizer(self, alpha):
        return alpha.AlphaDeny()

    @pytest.fixture
    def cases(self) -> list[Case]:
        return alpha_cases(DENY)
