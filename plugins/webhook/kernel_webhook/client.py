"""Calling a webhook: JSON POSTed over TLS, the answer decoded, failures as kube words them.

``await post(config, body, timeout, resolver=...)`` sends ``body`` to the webhook that ``config``
(:class:`~kernel_webhook.config.ClientConfig`) names and returns the decoded JSON answer, or raises
:class:`~kernel_webhook.errors.CallError`. A ``service`` is resolved on each call through
``resolver`` (its endpoints may move); the TLS server name checked is ``<name>.<namespace>.svc``
whatever address is dialled, as kube's webhook client does. Connections are pooled, one httpx
client per CA bundle (and per trio run: a pool cannot outlive the event loop its sockets belong to).

httpx is imported by the first call, not with this module: importing it costs about 50 ms of
every server's startup, and most servers never call a webhook.
"""

from __future__ import annotations

import errno
import math
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec
import trio

from kernel_webhook.config import ClientConfig, ServiceReference
from kernel_webhook.errors import CallError, status_of_response
from kernel_webhook.resolve import ResolveError, Target, resolve

if TYPE_CHECKING:
    import httpx

#: ``resolver(service)``: where a service's webhook is served now (ResolveError when nowhere).
Resolver = Callable[[ServiceReference], Awaitable[Target]]
USER_AGENT = "kube-apiserver-admission"
_HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}


def service_resolver(client: Any) -> Resolver:
    """A resolver through a client with ``get``/``list`` of API paths (the loopback client):
    services through their EndpointSlices or Endpoints, as :func:`kernel_webhook.resolve.resolve`."""
    async def resolver(service: ServiceReference) -> Target:
        return await resolve(client, service.as_dict())
    return resolver


class ClientPool:
    """The pooled httpx clients, one per CA bundle, for the current trio run."""

    def __init__(self) -> None:
        self._run: object = None
        self._clients: dict[bytes | None, httpx.AsyncClient] = {}

    def client(self, ca_bundle: bytes | None) -> httpx.AsyncClient:
        run = trio.lowlevel.current_root_task()
        if run is not self._run:  # a new event loop (tests): the old sockets are not usable here
            self._run, self._clients = run, {}
        client = self._clients.get(ca_bundle)
        if client is None:
            import httpx

            context = ssl.create_default_context(cadata=ca_bundle.decode("ascii", "replace")
                                                 if ca_bundle else None)
            client = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(verify=context), timeout=None,
                                       limits=httpx.Limits(max_keepalive_connections=100))
            self._clients[ca_bundle] = client
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


_POOL = ClientPool()


def timeout_query(timeout: float) -> str:
    """kube's ``?timeout=`` parameter: whole seconds, rounded up (``10s``)."""
    return f"timeout={max(1, math.ceil(timeout))}s"


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}" if query else url


async def _target(config: ClientConfig, resolver: Resolver | None, url: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The URL dialled, the httpx extensions and extra headers of a call."""
    if config.service is None:
        return url, {}, {}
    if resolver is None:
        raise CallError(f'Post "{url}": no service resolver to find service/{config.service.name} '
                        f'in "{config.service.namespace}"')
    try:
        target = await resolver(config.service)
    except ResolveError as error:
        raise CallError(f'Post "{url}": {error}') from None
    path = url.split(f":{config.service.port}", 1)[1]
    host = f"{config.service.server_name}:{config.service.port}"
    return f"{target.url}{path}", {"sni_hostname": target.server_name}, {"Host": host}


def _causes(error: BaseException) -> list[BaseException]:
    """The error and what caused it, depth first (trio's connect failures are groups)."""
    found, pending = [], [error]
    while pending and len(found) < 50:
        cause = pending.pop(0)
        found.append(cause)
        if isinstance(cause, BaseExceptionGroup):
            pending += list(cause.exceptions)
        pending += [c for c in (cause.__cause__, cause.__context__) if c is not None]
    return found


def _transport_error(url: str, error: Exception) -> str:
    """client-go's words for a transport failure, as near as Python's errors let us."""
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            if "Hostname mismatch" in str(cause) or "IP address mismatch" in str(cause):
                host = urlsplit(url).hostname
                return f'Post "{url}": tls: failed to verify certificate: x509: certificate is not valid for {host}'
            return f'Post "{url}": tls: failed to verify certificate: x509: certificate signed by unknown authority'
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            parts = urlsplit(url)
            return f'Post "{url}": dial tcp {parts.netloc.rpartition("@")[2]}: connect: connection refused'
        if isinstance(cause, ConnectionResetError):
            return f'Post "{url}": read: connection reset by peer'
    import httpx

    text = str(error) or type(error).__name__
    if isinstance(error, httpx.RemoteProtocolError):
        return f'Post "{url}": EOF'
    return f'Post "{url}": {text}'


async def post(config: ClientConfig, body: Any, timeout: float, *, resolver: Resolver | None = None,
               query: str | None = None, pool: ClientPool | None = None) -> Any:
    """POST ``body`` as JSON to the webhook and return its decoded JSON answer, within ``timeout``
    seconds (all of it: resolution, connection, answer). ``query`` is added to the URL (default:
    kube's ``timeout=<n>s``; "" for none). CallError when the call fails or the answer is an
    HTTP error or not JSON."""
    url = _with_query(config.request_url, timeout_query(timeout) if query is None else query)
    import httpx

    client = (pool or _POOL).client(config.ca_bundle)
    with trio.move_on_after(timeout) as scope:
        dial, extensions, headers = await _target(config, resolver, url)
        try:
            response = await client.post(dial, content=msgspec.json.encode(body),
                                         headers={**_HEADERS, **headers}, extensions=extensions)
        except httpx.HTTPError as error:
            raise CallError(_transport_error(url, error)) from None
    if scope.cancelled_caught:
        raise CallError(f'Post "{url}": context deadline exceeded')
    if not 200 <= response.status_code < 300:
        status = status_of_response(response.status_code, response.headers.get("content-type", ""),
                                    response.content)
        raise CallError(status.message, status)
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError as error:
        raise CallError(f"couldn't get version/kind; json parse error: {error}", invalid_response=True) from None
