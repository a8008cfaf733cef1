"""kernel_webhook against real HTTPS servers on 127.0.0.1 (their own CA), nothing mocked."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import trio

from kernel.testing.tls import free_port
from kernel_webhook import CallError, ClientConfig, ServiceReference, Target, post, validate_client_config
from kernel_webhook.resolve import ResolveError
from kernel_webhook.testing import WebhookServer


@pytest.fixture
def server():
    with WebhookServer() as served:
        yield served


def config(server: WebhookServer, path: str = "/hook", ca: bytes | None = None) -> ClientConfig:
    return ClientConfig.from_dict({"url": server.url(path),
                                   "caBundle": base64.b64encode(ca or server.ca_pem).decode()})


async def test_posts_json_and_returns_the_answer_with_kubes_timeout_query(server: WebhookServer) -> None:
    answer = await post(config(server), {"kind": "AdmissionReview", "n": 1}, 10)
    assert answer == {"kind": "AdmissionReview", "n": 1}
    path, headers, body = server.requests[0]
    assert path == "/hook?timeout=10s"
    assert headers["Content-Type"] == "application/json"
    assert body == {"kind": "AdmissionReview", "n": 1}
    await post(config(server), {}, 2.5, query="")
    assert server.requests[1][0] == "/hook"


async def test_a_refused_connection_is_a_call_error_in_client_gos_words() -> None:
    port = free_port()
    config = ClientConfig.from_dict({"url": f"https://127.0.0.1:{port}/validate"})
    with pytest.raises(CallError) as caught:
        await post(config, {}, 10)
    url = f"https://127.0.0.1:{port}/validate?timeout=10s"
    assert caught.value.detail == f'Post "{url}": dial tcp 127.0.0.1:{port}: connect: connection refused'
    assert caught.value.message("deny.example.com") == (
        f'failed calling webhook "deny.example.com": failed to call webhook: {caught.value.detail}')


async def test_a_slow_webhook_is_cut_at_the_timeout(server: WebhookServer) -> None:
    server.delay = 3
    call = config(server)
    started = trio.current_time()
    with pytest.raises(CallError) as caught:
        await post(call, {}, 1)
    assert trio.current_time() - started < server.delay  # bounded well before the webhook answers
    assert caught.value.detail == f'Post "https://127.0.0.1:{server.port}/hook?timeout=1s": context deadline exceeded'


async def test_a_webhook_not_signed_by_the_ca_bundle_is_refused(server: WebhookServer) -> None:
    with WebhookServer() as other:
        with pytest.raises(CallError) as caught:
            await post(config(server, ca=other.ca_pem), {}, 5)
    assert caught.value.detail.endswith(
        ": tls: failed to verify certificate: x509: certificate signed by unknown authority")
    assert server.requests == []


async def test_an_error_answer_carries_its_status(server: WebhookServer) -> None:
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "nope", "reason": "Forbidden",
              "code": 403}
    server.fail_next(403, json.dumps(status).encode(), "application/json")
    with pytest.raises(CallError) as caught:
        await post(config(server), {}, 5)
    assert (caught.value.detail, caught.value.status.code, caught.value.status.reason) == ("nope", 403, "Forbidden")
    server.fail_next(500, b"boom\n")
    with pytest.raises(CallError) as caught:
        await post(config(server), {}, 5)
    assert caught.value.detail == 'an error on the server ("boom") has prevented the request from succeeding'
    assert caught.value.status.code == 500


async def test_an_answer_that_is_not_json_is_an_invalid_response(server: WebhookServer) -> None:
    server.handle = lambda path, body: b"{not json"
    with pytest.raises(CallError) as caught:
        await post(config(server), {}, 5)
    assert caught.value.invalid_response
    assert caught.value.message("w").startswith('failed calling webhook "w": received invalid webhook response: ')


async def test_a_service_is_dialled_where_it_resolves_and_verified_by_its_service_name() -> None:
    """The certificate names ``hook.webhooks.svc`` (and 127.0.0.1); the endpoint is 127.0.0.1."""
    seen: list[ServiceReference] = []

    async def resolver(service: ServiceReference) -> Target:
        seen.append(service)
        if service.name != "hook":
            raise ResolveError("ServiceNotFound", f'service/{service.name} in "{service.namespace}" not found')
        return Target("127.0.0.1", server.port, service.server_name)

    with WebhookServer(dns_names=["hook.webhooks.svc"]) as server:
        service = ClientConfig.from_dict(server.service_config("webhooks", "hook", "/mutate"))
        assert service.request_url == "https://hook.webhooks.svc:443/mutate"
        assert await post(service, {"a": 1}, 5, resolver=resolver) == {"a": 1}
        path, headers, _ = server.requests[0]
        assert (path, headers["Host"]) == ("/mutate?timeout=5s", "hook.webhooks.svc:443")
        missing = ClientConfig.from_dict({"service": {"namespace": "webhooks", "name": "gone", "port": 8443}})
        with pytest.raises(CallError) as caught:
            await post(missing, {}, 5, resolver=resolver)
        assert caught.value.detail == ('Post "https://gone.webhooks.svc:8443?timeout=5s": '
                                       'service/gone in "webhooks" not found')
    with WebhookServer(dns_names=["other.webhooks.svc"]) as server:  # its certificate names another service
        with pytest.raises(CallError) as caught:
            await post(ClientConfig.from_dict(server.service_config("webhooks", "hook", "/m")), {}, 5,
                       resolver=resolver)
        assert caught.value.detail == ('Post "https://hook.webhooks.svc:443/m?timeout=5s": tls: failed to verify '
                                       'certificate: x509: certificate is not valid for hook.webhooks.svc')
        assert server.requests == []


async def test_concurrent_calls_share_the_pool(server: WebhookServer) -> None:
    answers: list[Any] = []

    async def one(n: int) -> None:
        answers.append(await post(config(server), {"n": n}, 10))

    async with trio.open_nursery() as nursery:
        for n in range(20):
            nursery.start_soon(one, n)
    assert sorted(a["n"] for a in answers) == list(range(20))


@pytest.mark.parametrize(("config", "expected"), [
    ({}, ["webhooks[0].clientConfig: Required value: exactly one of url or service is required"]),
    ({"url": "https://a", "service": {"name": "s", "namespace": "n"}},
     ["webhooks[0].clientConfig: Required value: exactly one of url or service is required"]),
    ({"url": "http://example.com/x"},
     ['webhooks[0].clientConfig.url: Invalid value: "http": \'https\' is the only allowed URL scheme; '
      "desired format: https://host[/path]"]),
    ({"url": "https://u:p@example.com/x?a=b#f"},
     ['webhooks[0].clientConfig.url: Invalid value: "u:p": user information is not permitted in the URL',
      'webhooks[0].clientConfig.url: Invalid value: "f": fragments are not permitted in the URL',
      'webhooks[0].clientConfig.url: Invalid value: "a=b": query parameters are not permitted in the URL']),
    ({"url": "https:///x"},
     ['webhooks[0].clientConfig.url: Invalid value: "": host must be specified; desired format: https://host[/path]']),
    # kube drops the first character as the leading '/' even when it is not one: "oo", "", "Bar"
    ({"service": {"port": 0, "path": "foo//Bar"}},
     ["webhooks[0].clientConfig.service.name: Required value",
      "webhooks[0].clientConfig.service.namespace: Required value",
      "webhooks[0].clientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive",
      'webhooks[0].clientConfig.service.path: Invalid value: "foo//Bar": must start with a \'/\'',
      'webhooks[0].clientConfig.service.path: Invalid value: "foo//Bar": segment[1] may not be empty',
      'webhooks[0].clientConfig.service.path: Invalid value: "foo//Bar": segment[2]: a lowercase RFC 1123 '
      "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
      "alphanumeric character (e.g. 'example.com', regex used for validation is "
      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
    ({"service": {"name": "s", "namespace": "n", "path": "/validate/v1"}}, []),
    ({"url": "https://example.com:8443/validate"}, []),
])
def test_client_config_is_validated_as_kube_does(config: dict[str, Any], expected: list[str]) -> None:
    assert [str(e) for e in validate_client_config(config, "webhooks[0].clientConfig")] == expected
