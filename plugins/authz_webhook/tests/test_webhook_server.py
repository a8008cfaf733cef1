"""``kernel serve`` with the Webhook mode and a real local HTTPS webhook: decisions, the cache by
the webhook's call count, the failure behaviour with the webhook down, several webhooks from
--authorization-config routed by match conditions, and the chain in the log and `kernel plugins`."""

from __future__ import annotations

import json
from collections.abc import Iterator
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from kernel.testing import KERNEL, KernelProcess, start_kernel
from kernel_authz_webhook.testing import LocalWebhook, by_user


@pytest.fixture
def webhook() -> Iterator[LocalWebhook]:
    """A real local HTTPS webhook deciding by_user."""
    with LocalWebhook() as hook:
        hook.decide = by_user
        yield hook


PLUGINS = "--plugins=authn_token,storage_memory,api_core,authz_webhook"
USERS = ("alice", "bob", "carol", "dave")
PODS = "/api/v1/namespaces/{}/configmaps"


def token_args(tmp_path: Path) -> list[str]:
    (tmp_path / "tokens.csv").write_text("".join(f"{u}-token,{u},uid-{u}\n" for u in USERS))
    return [f"--token-auth-file={tmp_path / 'tokens.csv'}"]


def get(kernel: KernelProcess, user: str, path: str) -> Any:
    with kernel.client(token=f"{user}-token", timeout=30) as client:
        return client.get(path)


def reviews_of(webhook: LocalWebhook, user: str) -> int:
    return sum(review["spec"]["user"] == user for review in webhook.reviews)


def test_decisions_cache_and_failure_through_the_server(tmp_path: Path, webhook: LocalWebhook) -> None:
    config = webhook.write_kubeconfig(tmp_path / "webhook.kubeconfig")
    kernel = start_kernel(tmp_path / "k", PLUGINS, *token_args(tmp_path),
                          "--authorization-mode=Webhook,AlwaysDeny",
                          f"--authorization-webhook-config-file={config}",
                          "--authorization-webhook-cache-unauthorized-ttl=0s")
    try:
        assert get(kernel, "alice", PODS.format("default")).status_code == 200
        denied = get(kernel, "bob", PODS.format("default"))
        assert denied.status_code == 403
        assert denied.json()["message"] == (
            'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" '
            'in the namespace "default": bob is banned')
        # NoOpinion passes on to the next mode, whose reason ends the message.
        passed_on = get(kernel, "carol", PODS.format("default"))
        assert passed_on.status_code == 403
        assert passed_on.json()["message"].endswith("no rule for carol\nEverything is forbidden.")
        # Allowed answers are cached (5m); not-allowed ones were turned off (0s) here.
        for _ in range(3):
            assert get(kernel, "alice", PODS.format("default")).status_code == 200
            assert get(kernel, "bob", PODS.format("default")).status_code == 403
        assert (reviews_of(webhook, "alice"), reviews_of(webhook, "bob")) == (1, 4)
        webhook.stop()  # down: NoOpinion, the next mode decides; cached answers still serve
        assert get(kernel, "alice", PODS.format("default")).status_code == 200
        # No later mode allows: kube answers the failure with a 500, not a 403.
        down = get(kernel, "dave", PODS.format("default"))
        assert down.status_code == 500
        assert down.json()["reason"] == "InternalError"
        assert down.json()["message"].startswith(
            "Internal error occurred: webhook authorizer default failed: ConnectError")
        with kernel.client() as admin:
            metrics = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                       for line in admin.get("/metrics").text.splitlines()
                       if line.startswith("apiserver_authorization_webhook_evaluations")}
    finally:
        kernel.stop()
    log = kernel.log()
    assert "authorization chain: privileged group system:masters, Webhook, AlwaysDeny" in log
    assert metrics['apiserver_authorization_webhook_evaluations_total{name="default",result="success"}'] == len(webhook.reviews) == 6
    assert metrics['apiserver_authorization_webhook_evaluations_fail_open_total{name="default",result="error"}'] == 1
    assert "Failed to make webhook authorizer request" in log


def webhook_entry(name: str, kubeconfig: str, conditions: list[str], policy: str = "NoOpinion") -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "Webhook", "name": name, "webhook": {
        "timeout": "5s", "subjectAccessReviewVersion": "v1", "failurePolicy": policy,
        "authorizedTTL": "5m", "unauthorizedTTL": "30s",
        "connectionInfo": {"type": "KubeConfigFile", "kubeConfigFile": kubeconfig}}}
    if conditions:
        entry["webhook"]["matchConditionSubjectAccessReviewVersion"] = "v1"
        entry["webhook"]["matchConditions"] = [{"expression": e} for e in conditions]
    return entry


def namespace_is(namespace: str) -> list[str]:
    return ["has(request.resourceAttributes)", f"request.resourceAttributes.namespace == '{namespace}'"]


def test_several_webhooks_from_authorization_config_routed_by_match_conditions(tmp_path: Path) -> None:
    with LocalWebhook() as team_a, LocalWebhook() as team_b:
        team_a.decide = lambda review: {"allowed": True}
        team_b.decide = lambda review: {"allowed": False, "denied": True, "reason": "team-b says no"}
        config = tmp_path / "authz.yaml"
        config.write_text(json.dumps({
            "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthorizationConfiguration",
            "authorizers": [
                webhook_entry("team-a", team_a.write_kubeconfig(tmp_path / "a.kubeconfig"), namespace_is("team-a")),
                webhook_entry("team-b", team_b.write_kubeconfig(tmp_path / "b.kubeconfig"), namespace_is("team-b")),
                {"type": "AlwaysDeny", "name": "alwaysdeny"}]}))
        listed = subprocess.run([KERNEL, "plugins", PLUGINS, f"--authorization-config={config}"],
                                capture_output=True, text=True, timeout=60)
        assert ("authorization: privileged group system:masters, Webhook/team-a, Webhook/team-b, "
                "AlwaysDeny") in listed.stdout, listed.stdout + listed.stderr
        kernel = start_kernel(tmp_path / "k", PLUGINS, *token_args(tmp_path), f"--authorization-config={config}")
        try:
            assert get(kernel, "carol", PODS.format("team-a")).status_code == 200
            refused = get(kernel, "carol", PODS.format("team-b"))
            assert refused.status_code == 403 and refused.json()["message"].endswith(": team-b says no")
            other = get(kernel, "carol", PODS.format("team-c"))  # neither matches: AlwaysDeny
            assert other.status_code == 403 and other.json()["message"].endswith(": Everything is forbidden.")
            assert get(kernel, "carol", "/version").status_code == 403
        finally:
            kernel.stop()
        namespaces = [[r["spec"]["resourceAttributes"]["namespace"] for r in hook.reviews]
                      for hook in (team_a, team_b)]
        assert namespaces == [["team-a"], ["team-b"]]
        assert ("authorization chain: privileged group system:masters, Webhook/team-a, "
                "Webhook/team-b, AlwaysDeny") in kernel.log()


def test_failure_policy_deny_from_authorization_config(tmp_path: Path, webhook: LocalWebhook) -> None:
    config = tmp_path / "authz.yaml"
    config.write_text(json.dumps({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthorizationConfiguration",
        "authorizers": [webhook_entry("strict", webhook.write_kubeconfig(tmp_path / "w.kubeconfig"), [], "Deny"),
                        {"type": "AlwaysAllow", "name": "alwaysallow"}]}))
    kernel = start_kernel(tmp_path / "k", PLUGINS, *token_args(tmp_path), f"--authorization-config={config}")
    try:
        assert get(kernel, "carol", PODS.format("default")).status_code == 200  # NoOpinion → AlwaysAllow
        webhook.stop()
        refused = get(kernel, "dave", PODS.format("default"))  # Deny: AlwaysAllow is never asked
        assert refused.status_code == 500
        assert "webhook authorizer strict failed: ConnectError" in refused.json()["message"]
    finally:
        kernel.stop()


@pytest.mark.parametrize("args, message", [
    (["--authorization-mode=Webhook"],
     "--authorization-webhook-config-file: authorization-mode Webhook's authorization config file not passed"),
    (["--authorization-mode=AlwaysAllow", "--authorization-webhook-config-file=/x"],
     "cannot specify --authorization-webhook-config-file without mode Webhook"),
    (["--authorization-mode=Webhook", "--authorization-webhook-config-file={kubeconfig}",
      "--authorization-webhook-version=v2"],
     'unsupported webhook authorizer version "v2", supported versions are "v1", "v1beta1"'),
    (["--authorization-config={config}", "--authorization-webhook-cache-authorized-ttl=1m"],
     "--authorization-config can not be specified when --authorization-mode or "
     "--authorization-webhook-* flags are defined"),
], ids=["no-config-file", "file-without-mode", "bad-version", "config-and-flags"])
def test_bad_flags_are_refused_at_startup(tmp_path: Path, webhook: LocalWebhook, args: list[str],
                                          message: str) -> None:
    kubeconfig = webhook.write_kubeconfig(tmp_path / "w.kubeconfig")
    config = tmp_path / "authz.yaml"
    config.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\n"
                      "authorizers: [{type: AlwaysAllow, name: alwaysallow}]\n")
    argv = [a.format(kubeconfig=kubeconfig, config=config) for a in args]
    result = subprocess.run([KERNEL, "serve", PLUGINS, "--secure-port=0", "--bind-address=127.0.0.1",
                             f"--cert-dir={tmp_path / 'certs'}", *argv],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr


def test_a_changed_authorization_config_is_reloaded_and_a_bad_one_ignored(tmp_path: Path) -> None:
    with LocalWebhook() as first, LocalWebhook() as second:
        first.decide = lambda review: {"allowed": False, "denied": True, "reason": "first says no"}
        second.decide = lambda review: {"allowed": True}
        config = tmp_path / "authz.yaml"

        def write(*authorizers: dict[str, Any]) -> None:
            config.write_text(json.dumps({"apiVersion": "apiserver.config.k8s.io/v1",
                                          "kind": "AuthorizationConfiguration", "authorizers": list(authorizers)}))

        deny = {"type": "AlwaysDeny", "name": "alwaysdeny"}
        write(webhook_entry("first", first.write_kubeconfig(tmp_path / "1.kubeconfig"), []), deny)
        kernel = start_kernel(tmp_path / "k", PLUGINS, *token_args(tmp_path), f"--authorization-config={config}")
        try:
            assert get(kernel, "carol", PODS.format("a")).status_code == 403
            # A type not enabled at startup cannot be added: logged, the chain stays.
            write(webhook_entry("second", second.write_kubeconfig(tmp_path / "2.kubeconfig"), []), deny,
                  {"type": "AlwaysAllow", "name": "alwaysallow"})
            wait_for_log(kernel, "authorizer type AlwaysAllow is not allowed if it was not enabled at initial "
                                 "server startup")
            assert get(kernel, "carol", PODS.format("b")).json()["message"].endswith("first says no")
            write(webhook_entry("second", second.write_kubeconfig(tmp_path / "2.kubeconfig"), []), deny)
            wait_for_log(kernel, "Webhook/second, AlwaysDeny")
            assert get(kernel, "carol", PODS.format("c")).status_code == 200
            assert len(second.reviews) == 1
        finally:
            kernel.stop()


def wait_for_log(kernel: KernelProcess, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while text not in kernel.log():
        assert time.monotonic() < deadline, f"{text!r} never logged:\n{kernel.log()}"
        time.sleep(0.05)
