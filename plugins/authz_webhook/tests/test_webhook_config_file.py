"""Bad --authorization-config files are refused at startup with kube's messages (field paths),
including what only the Webhook mode can check: CEL match conditions, InClusterConfig, the
webhook's kubeconfig."""

from __future__ import annotations

import json
from collections.abc import Iterator
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kernel import app
from kernel.testing import KERNEL
from kernel_authz_webhook.testing import LocalWebhook, by_user


@pytest.fixture
def webhook() -> Iterator[LocalWebhook]:
    """A real local HTTPS webhook deciding by_user."""
    with LocalWebhook() as hook:
        hook.decide = by_user
        yield hook


PLUGINS = "--plugins=authz_webhook"


def errors_for(tmp_path: Path, document: Any, *args: str) -> list[str]:
    path = tmp_path / "authz.yaml"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    argv = [PLUGINS, f"--authorization-config={path}", *args]
    run_options = app.build_options(argv)
    options, errors = app.parse(run_options, argv)
    return errors + app.validate(run_options, options)


def config(*authorizers: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthorizationConfiguration",
            "authorizers": list(authorizers)}


def webhook_entry(kubeconfig: str, name: str = "hook", **fields: Any) -> dict[str, Any]:
    settings = {"timeout": "3s", "subjectAccessReviewVersion": "v1", "failurePolicy": "NoOpinion",
                "connectionInfo": {"type": "KubeConfigFile", "kubeConfigFile": kubeconfig}}
    settings.update(fields)
    return {"type": "Webhook", "name": name, "webhook": {k: v for k, v in settings.items() if v is not None}}


@pytest.fixture
def kubeconfig(tmp_path: Path, webhook: LocalWebhook) -> str:
    return webhook.write_kubeconfig(tmp_path / "webhook.kubeconfig")


def test_a_valid_file_passes(tmp_path: Path, kubeconfig: str) -> None:
    document = config(webhook_entry(kubeconfig, "a", matchConditionSubjectAccessReviewVersion="v1",
                              matchConditions=[{"expression": "request.user != 'x'"}]),
                      webhook_entry(kubeconfig, "b"), {"type": "AlwaysAllow", "name": "alwaysallow"})
    assert errors_for(tmp_path, document) == []
    v1beta1 = {**document, "apiVersion": "apiserver.config.k8s.io/v1beta1"}
    assert errors_for(tmp_path, v1beta1) == []


CASES = {
    "no-authorizers": (config(), ["authorizers: Required value: at least one authorization mode must be defined"]),
    "unknown-type": (config({"type": "ABAC", "name": "abac"}), [
        'authorizers[0].type: Unsupported value: "ABAC": supported values: "AlwaysAllow", '
        '"AlwaysDeny", "Webhook"']),
    "repeated-type": (config({"type": "AlwaysAllow", "name": "alwaysallow"},
                             {"type": "AlwaysAllow", "name": "alwaysallow"}),
                      ['authorizers[1].type: Duplicate value: "AlwaysAllow"']),
    "wrong-mode-name": (config({"type": "AlwaysAllow", "name": "allow"}),
                        ["expected name alwaysallow for authorizer AlwaysAllow instead of allow"]),
    "webhook-on-other-type": (config({"type": "AlwaysDeny", "name": "alwaysdeny", "webhook": {}}),
                              ['authorizers[0].webhook: Invalid value: "non-null": may only be '
                               'specified when type=Webhook']),
    "missing-webhook": (config({"type": "Webhook", "name": "w"}),
                        ["authorizers[0].webhook: Required value: required when type=Webhook"]),
    "unknown-field": (config({"type": "AlwaysAllow", "name": "alwaysallow", "mode": "x"}),
                      ['failed to load AuthorizationConfiguration from file: strict decoding error: '
                       'unknown field "authorizers[0].mode"']),
    "wrong-kind": ({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration"},
                   ['failed to load AuthorizationConfiguration from file: no kind '
                    '"AuthenticationConfiguration" is registered for version "apiserver.config.k8s.io/v1"']),
}


@pytest.mark.parametrize("case", CASES)
def test_structural_errors(tmp_path: Path, case: str) -> None:
    document, expected = CASES[case]
    errors = errors_for(tmp_path, document)
    for message in expected:
        assert any(message in error for error in errors), errors
    assert all(error.startswith("--authorization-config: ") for error in errors)


def test_webhook_fields_are_validated_with_kube_paths(tmp_path: Path, kubeconfig: str) -> None:
    document = config(
        webhook_entry(kubeconfig, "Bad_Name", timeout="45s", subjectAccessReviewVersion="v2",
                failurePolicy="Allow", authorizedTTL="-1s",
                matchConditions=[{"expression": "true"}, {"expression": "true"}, {"expression": " "}]),
        webhook_entry("relative/kubeconfig", "two", timeout=None, subjectAccessReviewVersion=None,
                failurePolicy=None),
        webhook_entry(kubeconfig, "two"))
    errors = [e.removeprefix("--authorization-config: ") for e in errors_for(tmp_path, document)]
    expected = [
        'authorizers[0].name: Invalid value: "Bad_Name": authorizer name is invalid: a lowercase RFC 1123 subdomain',
        'authorizers[0].timeout: Invalid value: "45s": must be > 0s and <= 30s',
        'authorizers[0].authorizedTTL: Invalid value: "-1s": must be > 0s',
        'authorizers[0].subjectAccessReviewVersion: Unsupported value: "v2": supported values: "v1", "v1beta1"',
        'authorizers[0].matchConditionSubjectAccessReviewVersion: Required value: required if match '
        'conditions are specified',
        'authorizers[0].failurePolicy: Unsupported value: "Allow": supported values: "NoOpinion", "Deny"',
        'authorizers[0].matchConditions[1].expression: Duplicate value: "true"',
        "authorizers[0].matchConditions[2].expression: Required value",
        "authorizers[1].timeout: Required value",
        "authorizers[1].subjectAccessReviewVersion: Required value",
        "authorizers[1].failurePolicy: Required value",
        'authorizers[1].connectionInfo.kubeConfigFile: Invalid value: "relative/kubeconfig": must be an '
        'absolute path',
        'authorizers[2].name: Duplicate value: "two"',
    ]
    for message in expected:
        assert any(error.startswith(message) for error in errors), (message, errors)


def test_match_conditions_must_compile_to_bool(tmp_path: Path, kubeconfig: str) -> None:
    document = config(webhook_entry(kubeconfig, matchConditionSubjectAccessReviewVersion="v1", matchConditions=[
        {"expression": "request.user =="}, {"expression": "request.user"},
        {"expression": "request.user == 'ok'"}]))
    errors = errors_for(tmp_path, document)
    assert len(errors) == 2, errors
    assert errors[0].startswith('--authorization-config: authorizers[0].matchConditions[0].expression: '
                                'Invalid value: "request.user ==": compilation failed: ')
    assert errors[1] == ('--authorization-config: authorizers[0].matchConditions[1].expression: '
                         'Invalid value: "request.user": must evaluate to bool but got dyn')


def test_in_cluster_config_and_a_broken_kubeconfig_are_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.kubeconfig"
    broken.write_text("clusters: [{name: c, cluster: {server: 'ftp://nowhere'}}]\n")
    document = config({"type": "Webhook", "name": "incluster", "webhook": {
        "timeout": "3s", "subjectAccessReviewVersion": "v1", "failurePolicy": "Deny",
        "connectionInfo": {"type": "InClusterConfig"}}}, webhook_entry(str(broken)))
    errors = errors_for(tmp_path, document)
    assert any('authorizers[0].connectionInfo.type: Unsupported value: "InClusterConfig"' in e for e in errors), errors
    assert any(f"authorizers[1].connectionInfo.kubeConfigFile: {broken}: cluster server "
               f'"ftp://nowhere" is not an https:// URL' in e for e in errors), errors


def test_kernel_serve_exits_1_naming_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "authz.yaml"
    path.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\n"
                    "authorizers:\n- type: Webhook\n  name: w\n  webhook:\n    timeout: 3s\n")
    result = subprocess.run([KERNEL, "serve", PLUGINS, "--secure-port=0", "--bind-address=127.0.0.1",
                             f"--cert-dir={tmp_path / 'certs'}", f"--authorization-config={path}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    for message in ("authorizers[0].subjectAccessReviewVersion: Required value",
                    "authorizers[0].failurePolicy: Required value",
                    "authorizers[0].connectionInfo.type: Required value"):
        assert f"--authorization-config: {message}" in result.stderr, result.stderr
    missing = subprocess.run([KERNEL, "serve", PLUGINS, f"--authorization-config={tmp_path / 'none.yaml'}"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert f"--authorization-config: open {tmp_path / 'none.yaml'}: no such file or directory" in missing.stderr
