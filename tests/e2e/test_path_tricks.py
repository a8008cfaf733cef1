"""The path-trick matrix: requests dressed up to reach what the caller may not see.

A real server whose only mode is the ``test_policy`` fixture (namespace-aware) and token users:
``jane`` may read secrets and configmaps in namespace ``a`` only, ``bob`` secrets in ``b`` only,
``nobody`` nothing. Requests are written byte for byte on a TLS socket (httpx would normalise
the tricks away). Each one is either refused or served exactly as the authorizer decided for the
path kube resolves, and no refused answer carries data of namespace ``b``.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from kernel.testing import KernelProcess
from tests.conftest import plugin_env

B_MARKER = "b-only-secret-value"
B_MARKER_B64 = base64.b64encode(B_MARKER.encode()).decode()

POLICY = [
    {"users": ["jane"], "verbs": ["get", "list", "watch"], "resources": ["secrets", "configmaps"],
     "namespaces": ["a"]},
    {"users": ["bob"], "verbs": ["get", "list"], "resources": ["secrets"], "namespaces": ["b"]},
]
TOKENS = {"jane": "jane-token", "bob": "bob-token", "nobody": "nobody-token"}
PLUGINS = ("api_core,api_apps,api_batch,api_policy,api_coordination,api_authentication,"
           "api_authorization,storage_memory,authn_token,test_policy")


def raw(kernel: KernelProcess, method: str, target: str, token: str | None = None,
        headers: dict[str, str] | None = None, body: bytes = b"") -> tuple[int, str]:
    """One HTTP/1.1 request, its target and method sent exactly as given; (status, body)."""
    url = urlsplit(kernel.url)
    context = ssl.create_default_context(cafile=kernel.ca_file)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {url.netloc}", "Connection: close",
             f"Content-Length: {len(body)}"]
    if body:
        lines.append("Content-Type: application/json")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection((url.hostname, url.port), timeout=30) as plain:
        with context.wrap_socket(plain, server_hostname=url.hostname) as tls:
            tls.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            response = b""
            while chunk := tls.recv(65536):
                response += chunk
    head, _, payload = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        payload = _unchunk(payload)
    return status, payload.decode(errors="replace")


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory, test_plugins_path: str):
    from kernel.testing import start_kernel
    workdir = tmp_path_factory.mktemp("path-tricks")
    (workdir / "tokens.csv").write_text("".join(f"{t},{u},uid-{u}\n" for u, t in TOKENS.items()))
    (workdir / "policy.json").write_text(json.dumps(POLICY))
    kernel = start_kernel(workdir, f"--plugins={PLUGINS}", "--authorization-mode=TestPolicy",
                          f"--token-auth-file={workdir / 'tokens.csv'}",
                          f"--test-policy-file={workdir / 'policy.json'}",
                          env=plugin_env(test_plugins_path))
    try:
        with kernel.client(timeout=30) as admin:
            for ns in ("a", "b"):
                assert admin.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
            for name in ("sa1", "sa2", "sa3"):
                created = admin.post("/api/v1/namespaces/a/secrets", json={
                    "metadata": {"name": name}, "stringData": {"v": "a-value"}})
                assert created.status_code == 201, created.text
            for name in ("sb1", "sb2", "sb3"):
                created = admin.post("/api/v1/namespaces/b/secrets", json={
                    "metadata": {"name": name}, "stringData": {"v": B_MARKER}})
                assert created.status_code == 201, created.text
        yield kernel
    finally:
        kernel.stop()


def assert_no_b_data(body: str) -> None:
    """No secret value of b, and none of its names but sb1 (a 403 names what was asked for)."""
    assert B_MARKER_B64 not in body and B_MARKER not in body, body
    assert '"sb2"' not in body and '"sb3"' not in body, body


def names(body: str) -> list[str]:
    return [item["metadata"]["name"] for item in json.loads(body)["items"]]


# (method, target as sent) → what kube resolves it to: None when it must be refused whatever
# the policy says (an unclean path), else the plain path whose decision and answer it must share.
TRICKS = [
    ("GET", "//api/v1/namespaces/b/secrets", None),
    ("GET", "/api//v1/namespaces/b/secrets", None),
    ("GET", "/api/v1/namespaces/a/../b/secrets", None),
    ("GET", "/api/v1/namespaces/a/%2e%2e/b/secrets", None),
    ("GET", "/api/v1/namespaces/a/%2E%2E/b/secrets/sb1", None),
    ("GET", "/api/v1/namespaces/a/secrets/..%2f..%2fb%2fsecrets", None),
    ("GET", "/api/v1/namespaces/a/./secrets", None),
    ("GET", "/api/v1/namespaces/b%2Fsecrets", "/api/v1/namespaces/b/secrets"),
    ("GET", "/api/v1/namespaces/a%2Fsecrets", "/api/v1/namespaces/a/secrets"),
    ("GET", "/api/v1/namespaces/%62/secrets", "/api/v1/namespaces/b/secrets"),
    ("GET", "/api/v1/namespaces/b/secrets/", "/api/v1/namespaces/b/secrets"),
    ("GET", "/api/v1/namespaces/a/secrets/", "/api/v1/namespaces/a/secrets"),
    ("GET", "/api/v1/namespaces/b/secrets/sb1/", "/api/v1/namespaces/b/secrets/sb1"),
    ("GET", "/api/v1/namespaces/a/secrets/sa1/", "/api/v1/namespaces/a/secrets/sa1"),
    ("GET", "/api/v1/secrets", "/api/v1/secrets"),  # all namespaces: jane may list only in a
]


@pytest.mark.parametrize(("method", "target", "resolved"), TRICKS, ids=[t[1] for t in TRICKS])
def test_path_tricks_are_refused_or_served_as_the_resolved_path(kernel, method, target, resolved) -> None:
    status, body = raw(kernel, method, target, TOKENS["jane"])
    if resolved is None:
        assert status in (400, 403, 404), (status, body)
        assert_no_b_data(body)
        return
    plain_status, plain_body = raw(kernel, "GET", resolved, TOKENS["jane"])
    assert status == plain_status, (status, body, plain_body)
    if status == 200:
        assert json.loads(body).get("items", [json.loads(body)]) == \
            json.loads(plain_body).get("items", [json.loads(plain_body)])
    else:
        assert status == 403 and json.loads(body)["reason"] == "Forbidden"
        assert_no_b_data(body)


@pytest.mark.parametrize("method", ["gEt", "get", "Get", "pOST", "delete", "DeLeTe"])
def test_mixed_case_methods_are_refused_before_any_decision(kernel, method) -> None:
    # A method is case-sensitive (RFC 9110 9.1): "gEt" is not GET. The HTTP/1.1 parser knows
    # only the registered, upper-case methods and answers anything else with a 400 before a
    # filter or handler runs, so no authorizer can decide it as another method.
    for target in ("/api/v1/namespaces/b/secrets/sb1", "/api/v1/namespaces/a/secrets/sa1",
                   "/api/v1/namespaces/b/secrets"):
        body_bytes = b"{}" if method.upper() == "POST" else b""
        status, body = raw(kernel, method, target, TOKENS["jane"], body=body_bytes)
        assert (status, body) == (400, "400 Bad Request"), (method, target)
    # Still there afterwards: jane may delete nothing.
    with kernel.client() as admin:
        assert admin.get("/api/v1/namespaces/a/secrets/sa1").status_code == 200
        assert admin.get("/api/v1/namespaces/b/secrets/sb1").status_code == 200


@pytest.mark.parametrize("header", ["Impersonate-User", "impersonate-user", "IMPERSONATE-USER",
                                    "iMPERSONATE-uSER"])
def test_impersonation_headers_in_any_case_are_checked(kernel, header) -> None:
    status, body = raw(kernel, "GET", "/api/v1/namespaces/b/secrets", TOKENS["jane"],
                       {header: "bob", "ImPersonate-Group": "system:masters"})
    assert status == 403, body
    assert json.loads(body)["message"].startswith(
        'users "bob" is forbidden: User "jane" cannot impersonate resource "users"')
    assert_no_b_data(body)
    status, body = raw(kernel, "GET", "/api/v1/namespaces/b/secrets", TOKENS["jane"],
                       {"iMPERSONATE-gROUP": "system:masters"})
    assert status == 400 and "without impersonating a user" in body


def test_a_continue_token_from_a_is_no_key_to_b(kernel) -> None:
    status, body = raw(kernel, "GET", "/api/v1/namespaces/a/secrets?limit=1", TOKENS["jane"])
    assert status == 200 and names(body) == ["sa1"]
    token = json.loads(body)["metadata"]["continue"]
    # jane replays it against b: refused, as b is.
    status, body = raw(kernel, "GET", f"/api/v1/namespaces/b/secrets?limit=1&continue={quote(token)}",
                       TOKENS["jane"])
    assert status == 403, body
    assert_no_b_data(body)
    # bob, who may list b, replays a's token there: he gets b's secrets only, never a's.
    status, body = raw(kernel, "GET", f"/api/v1/namespaces/b/secrets?limit=5&continue={quote(token)}",
                       TOKENS["bob"])
    # The token holds a key relative to the list's prefix (as kube's does): in b it continues
    # among b's secrets, after "sa1".
    assert status == 200, body
    assert names(body) == ["sb1", "sb2", "sb3"] and "a-value" not in body
    # A token from b does not open a to bob either.
    status, body = raw(kernel, "GET", "/api/v1/namespaces/b/secrets?limit=1", TOKENS["bob"])
    token_b = json.loads(body)["metadata"]["continue"]
    status, body = raw(kernel, "GET", f"/api/v1/namespaces/a/secrets?limit=5&continue={quote(token_b)}",
                       TOKENS["bob"])
    assert status == 403 and "sa2" not in body


# --- authorization applies on every path ----------------------------------------------------

def _subresource_requests(kernel: KernelProcess) -> list[tuple[str, str]]:
    """(method, path) of every subresource discovery lists, on an object named x."""
    found = []
    with kernel.client() as admin:
        versions = ["/api/v1"] + [f"/apis/{v['groupVersion']}" for g in admin.get("/apis").json()["groups"]
                                  for v in g["versions"]]
        for prefix in versions:
            for resource in admin.get(prefix).json()["resources"]:
                if "/" not in resource["name"]:
                    continue
                plural, sub = resource["name"].split("/")
                scope = "/namespaces/a" if resource["namespaced"] else ""
                verbs = resource["verbs"]
                method = "GET" if "get" in verbs else "POST" if "create" in verbs else "PUT"
                found.append((method, f"{prefix}{scope}/{plural}/x/{sub}"))
    return found


def test_a_user_allowed_nothing_gets_403_everywhere(kernel) -> None:
    requests = [
        ("GET", "/api/v1/namespaces/a/secrets?watch=true"),
        ("GET", "/api/v1/watch/namespaces/a/secrets"),
        ("GET", "/api/v1/secrets?watch=1"),
        ("DELETE", "/api/v1/namespaces/a/configmaps"),
        ("DELETE", "/apis/apps/v1/namespaces/a/deployments"),
        ("GET", "/api"), ("GET", "/api/v1"), ("GET", "/apis"), ("GET", "/apis/apps/v1"),
        ("GET", "/apis/authorization.k8s.io/v1"),
        ("GET", "/openapi/v2"), ("GET", "/openapi/v3"), ("GET", "/openapi/v3/api/v1"),
        ("GET", "/metrics"), ("GET", "/version"), ("GET", "/healthz"), ("GET", "/readyz"),
        ("GET", "/openapi/v3/apis/apps/v1"),
        # Subresources no plugin serves are refused before routing, not answered 404.
        ("GET", "/api/v1/namespaces/a/pods/x/log"), ("POST", "/api/v1/namespaces/a/pods/x/exec"),
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"),
        ("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews"),
    ]
    subresources = _subresource_requests(kernel)
    assert {"/api/v1/namespaces/a/pods/x/status", "/api/v1/namespaces/a/pods/x/binding",
            "/apis/apps/v1/namespaces/a/deployments/x/scale"} <= {path for _, path in subresources}
    aggregated = {"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}
    for path in ("/api", "/apis"):
        status, text = raw(kernel, "GET", path, TOKENS["nobody"], aggregated)
        assert status == 403 and '"items"' not in text, text
    for method, path in requests + subresources:
        body = b"{}" if method in ("POST", "PUT") else b""
        status, text = raw(kernel, method, path, TOKENS["nobody"], body=body)
        assert status == 403, (method, path, status, text)
        assert json.loads(text)["message"].startswith(("forbidden: User \"nobody\"",)) or \
            'User "nobody" cannot' in json.loads(text)["message"], text
