"""The authentication and authorization filters with the built-in plugins, and their Status errors."""

from __future__ import annotations

import threading
import time

import trio

from conftest import plugin_env

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


async def test_anonymous_is_allowed_when_enabled(kernel_in_process):
    kernel = await kernel_in_process()
    async with kernel.client(token=None) as client:
        assert (await client.get("/readyz")).status_code == 200


async def test_no_credential_is_401_without_anonymous(kernel_in_process):
    kernel = await kernel_in_process("--anonymous-auth=false")
    async with kernel.client(token=None) as client:
        for path in ("/readyz", "/livez", "/healthz", "/version", "/api/v1/namespaces", "/nope"):
            response = await client.get(path)
            assert response.status_code == 401, path
            assert response.json() == UNAUTHORIZED
    async with kernel.client() as admin:
        assert (await admin.get("/readyz")).status_code == 200


async def test_bad_token_is_401_not_anonymous(kernel_in_process):
    kernel = await kernel_in_process()  # anonymous on: a bad token must still not fall through
    async with kernel.client(token="not-the-loopback-token") as client:
        response = await client.get("/readyz")
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED


async def test_always_deny_messages_for_resource_and_non_resource_requests(kernel_in_process):
    kernel = await kernel_in_process("--authorization-mode=AlwaysDeny")
    async with kernel.client(token=None) as client:
        response = await client.get("/readyz")
        assert response.status_code == 403
        assert response.json() == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'forbidden: User "system:anonymous" cannot get path "/readyz": Everything is forbidden.',
            "reason": "Forbidden", "code": 403}
        response = await client.get("/api/v1/namespaces/default/configmaps/x")
        assert response.json()["message"] == (
            'configmaps "x" is forbidden: User "system:anonymous" cannot get resource "configmaps" '
            'in API group "" in the namespace "default": Everything is forbidden.')
        assert response.json()["details"] == {"name": "x", "kind": "configmaps"}
        response = await client.get("/apis/apps/v1/deployments")
        assert response.json()["message"] == (
            'deployments.apps is forbidden: User "system:anonymous" cannot list resource "deployments" '
            'in API group "apps" at the cluster scope: Everything is forbidden.')
        response = await client.post("/api/v1/namespaces/ns/pods/p/exec?command=ls")
        assert response.json()["message"].startswith(
            'pods "p" is forbidden: User "system:anonymous" cannot create resource "pods/exec" in API group ""')


async def test_system_masters_bypass_every_mode(kernel_in_process):
    kernel = await kernel_in_process("--authorization-mode=AlwaysDeny")
    async with kernel.client() as admin:  # loopback token: system:apiserver in system:masters
        assert (await admin.get("/readyz")).status_code == 200


async def test_unknown_paths_are_404_status(kernel_in_process):
    kernel = await kernel_in_process()
    async with kernel.client() as client:
        response = await client.get("/api/v1/widgets")
        assert response.status_code == 404
        assert response.json()["reason"] == "NotFound"
        assert response.json()["message"] == "the server could not find the requested resource"


async def _raw_request(kernel, target: str) -> bytes:
    """Send a request line exactly as given (clients normalise dot segments away)."""
    import ssl
    context = ssl.create_default_context(cafile=kernel.ca_file)
    port = int(kernel.server.url.rsplit(":", 1)[1])
    stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=context)
    await stream.send_all(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    data = b""
    try:
        while chunk := await stream.receive_some():
            data += chunk
    except trio.BrokenResourceError:  # the server closed without a TLS close_notify
        pass
    return data


async def test_dot_segments_and_empty_segments_are_refused(kernel_in_process):
    kernel = await kernel_in_process("--authorization-mode=AlwaysDeny")
    for target in ("/api/v1/namespaces/a/../../../readyz", "/api/v1/namespaces/./configmaps",
                   "//readyz", "/api//v1/namespaces"):
        response = await _raw_request(kernel, target)
        assert response.startswith(b"HTTP/1.1 400"), (target, response)
        assert b'"reason":"BadRequest"' in response


def test_plugin_authenticators_users_and_groups(kernel_process, test_plugins_path):
    kernel = kernel_process("--plugins=test_alpha,test_beta", "--storage-backend=alpha-dict",
                            "--alpha-token=alpha-secret", "--beta-token=beta-secret",
                            env=plugin_env(test_plugins_path))
    path = "/apis/alpha.test.kernel.dev/v1/namespaces/ns1/things/t1/status"
    with kernel.client(token="alpha-secret") as client:
        body = client.get(path).json()
    assert body == {"user": "alpha", "uid": "alpha-uid", "groups": ["alpha-group", "system:authenticated"],
                    "verb": "get", "resource": "things", "namespace": "ns1", "name": "t1",
                    "subresource": "status"}
    with kernel.client(token="beta-secret") as client:
        assert client.get(path).json()["groups"] == ["beta-group", "system:authenticated"]
    with kernel.client(token=None) as client:
        assert client.get(path).json()["groups"] == ["system:unauthenticated"]
    with kernel.client(token="alpha-wrong") as client:  # alpha recognises it and rejects it
        assert client.get(path).status_code == 401


def test_plugins_order_decides_who_authenticates_a_shared_token(kernel_process, test_plugins_path):
    env = plugin_env(test_plugins_path)
    path = "/apis/alpha.test.kernel.dev/v1/things"
    for order, expected in (("test_alpha,test_beta", "alpha"), ("test_beta,test_alpha", "beta")):
        kernel = kernel_process(f"--plugins={order}", "--storage-backend=alpha-dict",
                                "--alpha-token=alpha-shared", "--beta-token=alpha-shared", env=env)
        with kernel.client(token="alpha-shared") as client:
            assert client.get(path).json()["user"] == expected, order
        assert kernel.stop() == 0


def test_authorization_mode_order_decides(kernel_process, test_plugins_path):
    env = plugin_env(test_plugins_path)
    path = "/apis/alpha.test.kernel.dev/v1/things"
    for modes, expected in (("AlphaDeny,AlphaAllow", 403), ("AlphaAllow,AlphaDeny", 200)):
        kernel = kernel_process("--plugins=test_alpha", "--storage-backend=alpha-dict",
                                "--alpha-token=alpha-secret", f"--authorization-mode={modes}", env=env)
        with kernel.client(token="alpha-secret") as client:
            response = client.get(path)
        assert response.status_code == expected, modes
        if expected == 403:
            assert response.json()["message"] == (
                'things.alpha.test.kernel.dev is forbidden: User "alpha" cannot list resource "things" '
                'in API group "alpha.test.kernel.dev" at the cluster scope: alpha is denied')
        assert kernel.stop() == 0


def test_max_in_flight_and_request_timeout(kernel_process, test_plugins_path):
    kernel = kernel_process("--plugins=test_alpha", "--storage-backend=alpha-dict",
                            "--max-requests-inflight=1", "--request-timeout=2s", env=plugin_env(test_plugins_path))
    slow = "/apis/alpha.test.kernel.dev/v1/things?sleep=1"
    with kernel.client(token=None) as anonymous, kernel.client() as admin:
        results = {}
        thread = threading.Thread(target=lambda: results.setdefault("slow", anonymous.get(slow)))
        thread.start()
        time.sleep(0.3)
        with kernel.client(token=None) as other:
            busy = other.get("/apis/alpha.test.kernel.dev/v1/things")
        assert busy.status_code == 429
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["reason"] == "TooManyRequests"
        assert admin.get("/apis/alpha.test.kernel.dev/v1/things").status_code == 200  # masters are exempt
        thread.join()
        assert results["slow"].status_code == 200
        late = anonymous.get("/apis/alpha.test.kernel.dev/v1/things?sleep=3")
        assert late.status_code == 504
        assert late.json()["message"] == \
            "Timeout: request did not complete within requested timeout - context deadline exceeded"
        assert anonymous.get("/apis/alpha.test.kernel.dev/v1/things?sleep=1.5&timeout=1s").status_code == 504
