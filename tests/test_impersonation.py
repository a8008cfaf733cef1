"""Impersonation (kernel/server/filters/impersonation.py): the filter in-process with a real
authorizer chain, then ``kubectl --as`` / ``--as-group`` against a real server whose mode is the
``test_policy`` fixture plugin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kernel.authentication import UserInfo
from kernel.authorization import Attributes, AuthorizerChain, Decision
from kernel.endpoints.request import Request
from kernel.server.filters.impersonation import split_service_account, with_impersonation
from tests.conftest import plugin_env
from tests.e2e.authn_helpers import review_user, tls_client, write_kubeconfig, kubectl

JANE = UserInfo("jane", "j-1", ("staff", "system:authenticated"))


class Grants:
    """Allows exactly the (verb, api group, resource/subresource, namespace, name) listed."""

    def __init__(self, *allowed: tuple[str, str, str, str, str]) -> None:
        self.allowed = set(allowed)
        self.asked: list[Attributes] = []

    async def authorize(self, a: Attributes) -> tuple[Decision, str]:
        self.asked.append(a)
        resource = a.resource + (f"/{a.subresource}" if a.subresource else "")
        if (a.verb, a.api_group, resource, a.namespace, a.name) in self.allowed:
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, "not granted"


def impersonate(kind: str, name: str, namespace: str = "", group: str = "") -> tuple[str, ...]:
    return ("impersonate", group, kind, namespace, name)


async def run_filter(grants: Grants, headers: list[tuple[bytes, bytes]],
                     user: UserInfo = JANE) -> tuple[int, dict[str, Any], Request | None]:
    """Send one request through WithImpersonation; the status, the body, and the request the
    next handler got (None when the filter answered)."""
    seen: list[Request] = []
    sent: list[dict[str, Any]] = []

    async def handler(request: Request) -> None:
        seen.append(request)
        await request.respond_json({"ok": True})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/api/v1/pods", "query_string": b"",
             "headers": [(b"host", b"x"), *headers]}
    request = Request(scope, receive, send)
    request.user = user
    await with_impersonation(handler, AuthorizerChain([("grants", grants)], "system:masters"))(request)
    body = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    return sent[0]["status"], body, seen[0] if seen else None


async def test_no_headers_leave_the_request_alone() -> None:
    grants = Grants()
    code, _, request = await run_filter(grants, [])
    assert code == 200 and request is not None and request.user is JANE
    assert request.original_user is None and grants.asked == []


async def test_user_groups_uid_and_extras_each_need_impersonate() -> None:
    grants = Grants(impersonate("users", "bob"), impersonate("groups", "devs"),
                    impersonate("groups", "qa"), impersonate("uids", "u-9", group="authentication.k8s.io"),
                    impersonate("userextras/acme.com/project", "p1", group="authentication.k8s.io"),
                    impersonate("userextras/acme.com/project", "p2", group="authentication.k8s.io"))
    headers = [(b"Impersonate-User", b"bob"), (b"impersonate-group", b"devs"),
               (b"IMPERSONATE-GROUP", b"qa"), (b"Impersonate-Uid", b"u-9"),
               (b"Impersonate-Extra-Acme.com%2fProject", b"p1"),
               (b"impersonate-extra-acme.com%2Fproject", b"p2")]
    code, body, request = await run_filter(grants, headers)
    assert code == 200, body
    assert request is not None and request.original_user is JANE
    assert request.user == UserInfo("bob", "u-9", ("devs", "qa", "system:authenticated"),
                                    {"acme.com/project": ("p1", "p2")})
    # Every check was asked as the authenticated user; the headers are gone afterwards.
    assert {a.user.name for a in grants.asked} == {"jane"} and len(grants.asked) == 6
    assert not [n for n, _ in request.scope["headers"] if n.lower().startswith(b"impersonate-")]
    assert "impersonate-user" not in request.headers


async def test_a_service_account_gets_its_groups_and_is_checked_in_its_namespace() -> None:
    grants = Grants(impersonate("serviceaccounts", "builder", namespace="ci"))
    code, _, request = await run_filter(grants, [(b"impersonate-user", b"system:serviceaccount:ci:builder")])
    assert code == 200 and request is not None
    assert request.user == UserInfo("system:serviceaccount:ci:builder", "", (
        "system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"))
    # Groups given replace the service account's groups.
    grants = Grants(impersonate("serviceaccounts", "builder", namespace="ci"), impersonate("groups", "g"))
    _, _, request = await run_filter(grants, [(b"impersonate-user", b"system:serviceaccount:ci:builder"),
                                              (b"impersonate-group", b"g")])
    assert request is not None and request.user.groups == ("g", "system:authenticated")
    assert split_service_account("system:serviceaccount:Bad_NS:x") is None
    assert split_service_account("system:serviceaccount:a:b:c") is None


async def test_anonymous_gets_unauthenticated_and_given_groups_are_kept() -> None:
    grants = Grants(impersonate("users", "system:anonymous"), impersonate("groups", "system:authenticated"))
    _, _, request = await run_filter(grants, [(b"impersonate-user", b"system:anonymous")])
    assert request is not None and request.user.groups == ("system:unauthenticated",)
    _, _, request = await run_filter(grants, [(b"impersonate-user", b"system:anonymous"),
                                              (b"impersonate-group", b"system:authenticated")])
    assert request is not None and request.user.groups == ("system:authenticated", "system:unauthenticated")


async def test_a_refused_part_is_kubes_403_and_nothing_is_served() -> None:
    grants = Grants(impersonate("users", "bob"))
    code, body, request = await run_filter(grants, [(b"impersonate-user", b"bob"),
                                                    (b"impersonate-group", b"system:masters")])
    assert (code, request) == (403, None)
    assert body["reason"] == "Forbidden" and body["details"] == {"name": "system:masters", "kind": "groups"}
    assert body["message"] == ('groups "system:masters" is forbidden: User "jane" cannot impersonate '
                               'resource "groups" in API group "" at the cluster scope: not granted')
    code, body, _ = await run_filter(Grants(), [(b"impersonate-user", b"system:serviceaccount:ci:builder")])
    assert body["message"] == ('serviceaccounts "builder" is forbidden: User "jane" cannot impersonate '
                               'resource "serviceaccounts" in API group "" in the namespace "ci": not granted')
    code, body, _ = await run_filter(Grants(impersonate("users", "bob")),
                                     [(b"impersonate-user", b"bob"), (b"impersonate-extra-scopes", b"all")])
    assert body["message"] == ('userextras.authentication.k8s.io "all" is forbidden: User "jane" cannot '
                               'impersonate resource "userextras/scopes" in API group '
                               '"authentication.k8s.io" at the cluster scope: not granted')


async def test_groups_extras_or_uid_without_a_user_are_a_400() -> None:
    grants = Grants(impersonate("groups", "devs"))
    code, body, request = await run_filter(grants, [(b"impersonate-group", b"devs")])
    assert (code, request, body["reason"]) == (400, None, "BadRequest")
    assert body["message"] == "requested [{Group  devs    }] without impersonating a user"
    code, body, _ = await run_filter(grants, [(b"impersonate-uid", b"u-1")])
    assert body["message"] == "requested [{UID  u-1  authentication.k8s.io/v1  }] without impersonating a user"
    assert grants.asked == []


async def test_system_masters_may_impersonate_anyone() -> None:
    admin = UserInfo("admin", "", ("system:masters",))
    code, _, request = await run_filter(Grants(), [(b"impersonate-user", b"bob"),
                                                   (b"impersonate-group", b"system:masters")], admin)
    assert code == 200 and request is not None and request.user.name == "bob"
    assert request.original_user is admin


# --- kubectl --as against a real server ------------------------------------------------------

POLICY = [
    # system:discovery's rules, so kubectl can find its way.
    {"groups": ["system:authenticated"], "verbs": ["get"],
     "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version"]},
    {"users": ["jane"], "verbs": ["impersonate"], "resources": ["users"], "names": ["bob"]},
    {"users": ["jane"], "verbs": ["impersonate"], "resources": ["groups"], "names": ["devs"]},
    {"users": ["bob"], "verbs": ["get", "list"], "resources": ["configmaps"], "namespaces": ["default"]},
    {"groups": ["devs"], "verbs": ["create"], "resources": ["configmaps"], "namespaces": ["default"]},
    {"groups": ["system:authenticated"], "verbs": ["create"],
     "resources": ["selfsubjectreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
]


@pytest.fixture
def policy_kernel(tmp_path: Path, kernel_process, test_plugins_path: str):
    (tmp_path / "tokens.csv").write_text('jane-token,jane,u-jane\nalice-token,alice,u-alice\n')
    (tmp_path / "policy.json").write_text(json.dumps(POLICY))
    kernel = kernel_process(
        "--plugins=api_core,api_authentication,api_authorization,storage_memory,authn_token,test_policy",
        f"--token-auth-file={tmp_path / 'tokens.csv'}", f"--test-policy-file={tmp_path / 'policy.json'}",
        "--authorization-mode=TestPolicy", env=plugin_env(test_plugins_path))
    return kernel


def test_kubectl_as_works_only_with_impersonate_rights(tmp_path: Path, policy_kernel) -> None:
    kernel = policy_kernel
    jane = write_kubeconfig(tmp_path / "jane.kubeconfig", kernel.url, kernel.ca_file, token="jane-token")
    alice = write_kubeconfig(tmp_path / "alice.kubeconfig", kernel.url, kernel.ca_file, token="alice-token")
    home = tmp_path / "home-kubectl"
    # jane herself may not list configmaps; as bob she may.
    assert "forbidden" in kubectl(jane, home, "get", "configmaps").stderr
    as_bob = kubectl(jane, home, "get", "configmaps", "--as=bob", "-o", "name")
    assert as_bob.returncode == 0, as_bob.stderr
    who = json.loads(kubectl(jane, home, "auth", "whoami", "--as=bob", "--as-group=devs", "-o", "json").stdout)
    assert who["status"]["userInfo"] == {"username": "bob", "groups": ["devs", "system:authenticated"]}
    # The group devs may create; bob alone may not.
    assert kubectl(jane, home, "auth", "can-i", "create", "configmaps", "--as=bob").stdout.strip() == "no - no rule matched"
    assert kubectl(jane, home, "auth", "can-i", "create", "configmaps", "--as=bob",
                   "--as-group=devs").stdout.strip() == "yes"
    # Without the right: alice, or jane asking for a user or group she was not given.
    refused = kubectl(alice, home, "get", "configmaps", "--as=bob")
    assert refused.returncode != 0 and ('users "bob" is forbidden: User "alice" cannot impersonate '
                                        'resource "users" in API group "" at the cluster scope') in refused.stderr
    refused = kubectl(jane, home, "get", "configmaps", "--as=carol")
    assert 'users "carol" is forbidden: User "jane" cannot impersonate' in refused.stderr
    refused = kubectl(jane, home, "get", "configmaps", "--as=bob", "--as-group=system:masters")
    assert 'groups "system:masters" is forbidden: User "jane" cannot impersonate' in refused.stderr


def test_the_admin_may_impersonate_and_header_case_does_not_matter(policy_kernel) -> None:
    kernel = policy_kernel
    with tls_client(kernel.url, kernel.ca_file, token=kernel.token) as admin:
        admin.headers["iMPERSONATE-uSER"] = "system:serviceaccount:default:builder"
        response = review_user(admin)
    assert response.status_code == 201, response.text
    assert response.json()["status"]["userInfo"] == {
        "username": "system:serviceaccount:default:builder",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]}
    with tls_client(kernel.url, kernel.ca_file, token="jane-token") as jane:
        jane.headers["Impersonate-Group"] = "devs"
        response = review_user(jane)
    assert response.status_code == 400
    assert response.json()["message"] == "requested [{Group  devs    }] without impersonating a user"
