"""Bootstrap tokens through ``kernel serve``: secrets created with the API (read back through the
shared informer) authenticate kubectl as system:bootstrap:<id> until they expire; every way kube
refuses one answers 401 (never anonymous)."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.testing import KernelProcess, start_kernel
from kernel_authn_bootstrap.testing import token_secret

PLUGINS = "--plugins=api_core,api_authentication,storage_memory,authn_bootstrap"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
SECRET = "0123456789abcdef"


def rfc3339(seconds: float) -> str:
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def create(kernel: KernelProcess, *secrets: dict) -> None:
    kernel.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                          "items": list(secrets)}))


def whoami(kernel: KernelProcess, token: str | None) -> tuple[int, dict]:
    with kernel.client(token=token) as client:
        response = client.post(WHOAMI, json={"kind": "SelfSubjectReview"})
    return response.status_code, response.json()


def wait_authenticated(kernel: KernelProcess, token: str, timeout: float = 10) -> dict:
    """The user of ``token`` once the informer has its secret (events arrive in order: every secret
    created before it is known too)."""
    deadline = time.monotonic() + timeout
    while True:
        code, body = whoami(kernel, token)
        if code == 201:
            return body["status"]["userInfo"]
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[KernelProcess]:
    kernel = start_kernel(tmp_path / "k", PLUGINS, "--enable-bootstrap-token-auth",
                          "--anonymous-auth=true", "--authorization-mode=AlwaysAllow")
    yield kernel
    kernel.stop()


def test_a_bootstrap_token_is_its_user_with_extra_groups(kernel: KernelProcess) -> None:
    create(kernel, token_secret("abcdef", SECRET, expiration=rfc3339(3600),
                                extra_groups="system:bootstrappers:nodes,system:bootstrappers:kubeadm:default"))
    wait_authenticated(kernel, f"abcdef.{SECRET}")
    info = json.loads(kernel.kubectl("auth", "whoami", "-o", "json", f"--token=abcdef.{SECRET}").stdout)
    assert info["status"]["userInfo"] == {
        "username": "system:bootstrap:abcdef",
        "groups": ["system:bootstrappers", "system:bootstrappers:kubeadm:default",
                   "system:bootstrappers:nodes", "system:authenticated"]}


def test_refused_tokens_are_401_never_anonymous(kernel: KernelProcess) -> None:
    create(kernel,
           token_secret("expird", SECRET, expiration=rfc3339(-60)),
           token_secret("badexp", SECRET, expiration="tomorrow"),
           token_secret("nouse1", SECRET, usage="false"),
           token_secret("nouse2", SECRET, usage=None),
           token_secret("badgrp", SECRET, extra_groups="system:bootstrappers:ok,system:masters"),
           token_secret("opaque", SECRET, type_="Opaque"),
           token_secret("otheri", SECRET) | {"data": {**token_secret("otheri", SECRET)["data"],
                                                      "token-id": "b3RoZXJq"}},  # "otherj"
           token_secret("active", SECRET))
    wait_authenticated(kernel, f"active.{SECRET}")  # the informer holds all of them now
    code, body = whoami(kernel, None)
    assert body["status"]["userInfo"]["username"] == "system:anonymous"  # anonymous is on ...
    refused = [f"active.{'f' * 16}",  # wrong secret
               f"nosuch.{SECRET}",  # no secret of that id
               *(f"{token_id}.{SECRET}" for token_id in
                 ("expird", "badexp", "nouse1", "nouse2", "badgrp", "opaque", "otheri"))]
    for token in refused:
        code, body = whoami(kernel, token)  # ... and never reached
        assert (code, body["reason"]) == (401, "Unauthorized"), token


def test_a_token_stops_working_when_it_expires(kernel: KernelProcess) -> None:
    create(kernel, token_secret("brief1", SECRET, expiration=rfc3339(3)))
    assert wait_authenticated(kernel, f"brief1.{SECRET}")["username"] == "system:bootstrap:brief1"
    time.sleep(4)
    assert whoami(kernel, f"brief1.{SECRET}")[0] == 401


def test_changes_to_the_secret_apply_at_once(kernel: KernelProcess) -> None:
    create(kernel, token_secret("change", SECRET, finalizers=["example.com/hold"]))
    wait_authenticated(kernel, f"change.{SECRET}")
    kernel.kubectl("-n", "kube-system", "patch", "secret", "bootstrap-token-change", "--type=merge",
                   "-p", json.dumps({"data": {"usage-bootstrap-authentication": "ZmFsc2U="}}))  # false
    deadline = time.monotonic() + 10
    while whoami(kernel, f"change.{SECRET}")[0] != 401:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    kernel.kubectl("-n", "kube-system", "patch", "secret", "bootstrap-token-change", "--type=merge",
                   "-p", json.dumps({"data": {"usage-bootstrap-authentication": "dHJ1ZQ=="}}))  # true
    wait_authenticated(kernel, f"change.{SECRET}")
    # Being deleted (a finalizer holds it): refused.
    kernel.kubectl("-n", "kube-system", "delete", "secret", "bootstrap-token-change", "--wait=false")
    deadline = time.monotonic() + 10
    while whoami(kernel, f"change.{SECRET}")[0] != 401:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    kernel.kubectl("-n", "kube-system", "patch", "secret", "bootstrap-token-change", "--type=merge",
                   "-p", json.dumps({"metadata": {"finalizers": None}}))


def test_without_the_flag_bootstrap_tokens_are_not_accepted(tmp_path: Path) -> None:
    kernel = start_kernel(tmp_path / "k", PLUGINS, "--anonymous-auth=true")
    try:
        create(kernel, token_secret("abcdef", SECRET))
        assert whoami(kernel, f"abcdef.{SECRET}")[0] == 401
        assert "bootstrap-token (needs --enable-bootstrap-token-auth)" in kernel.log()
    finally:
        kernel.stop()


def test_the_readme_example(kernel: KernelProcess) -> None:
    kernel.kubectl("-n", "kube-system", "create", "secret", "generic", "bootstrap-token-07401b",
                   "--type=bootstrap.kubernetes.io/token", "--from-literal=token-id=07401b",
                   "--from-literal=token-secret=f395accd246ae52d",
                   "--from-literal=usage-bootstrap-authentication=true",
                   "--from-literal=expiration=2030-01-01T00:00:00Z",
                   "--from-literal=auth-extra-groups=system:bootstrappers:nodes")
    wait_authenticated(kernel, "07401b.f395accd246ae52d")
    out = kernel.kubectl("--token=07401b.f395accd246ae52d", "auth", "whoami").stdout
    assert "system:bootstrap:07401b" in out and "system:bootstrappers:nodes" in out
