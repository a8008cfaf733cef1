"""The loopback client: requests from inside the server, through the whole filter chain.

kube-apiserver's own controllers (the namespace controller, bootstrap of the default namespaces,
the ``kubernetes`` service) talk to the API over a loopback connection with a privileged token, so
authentication, authorization, admission and validation apply to them as to any client. The
kernel does the same without a socket: a :class:`LoopbackClient` makes an ASGI ``http`` scope
carrying the loopback token and calls the server's ASGI application with it. The request is
authenticated as ``system:apiserver`` (group ``system:masters``) by the loopback authenticator,
logged, counted in ``/metrics`` and drained at shutdown like any other.

Why by hand and not ``httpx.ASGITransport``: that transport buffers the whole response, so a
watch (a response that never ends) could not be read from it, and it would add httpx's request
and response models to every controller call for nothing the kernel needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, unquote, urlencode

import msgspec
import trio

from kernel.apimachinery.status import StatusError
from kernel.version import version_info

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
Query = Mapping[str, str] | None


class Response(msgspec.Struct):
    """A loopback response: status, headers (lower-cased names; repeated ones joined with
    ``,``) and the whole body."""

    status: int
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


def status_error(response: Response) -> StatusError:
    """The response's metav1.Status as the StatusError the server raised (a body that is not a
    Status, as a plain-text 500, keeps the code and carries the text as the message)."""
    try:
        body = response.json()
    except msgspec.DecodeError:
        body = None
    if not isinstance(body, dict) or body.get("kind") != "Status":
        return StatusError(response.status, "", response.body.decode("utf-8", "replace"))
    return StatusError(body.get("code") or response.status, body.get("reason", ""),
                       body.get("message", ""), body.get("details"))


class LoopbackClient:
    """A client of this server that needs no socket: ``await client.get("/api/v1/namespaces")``.

    The typed calls return the decoded object and raise
    :class:`~kernel.apimachinery.status.StatusError` (code, reason, message, details as the
    server answered) on any status of 400 and over; :meth:`request` returns every response.
    """

    def __init__(self, app: ASGIApp, token: str, user_agent: str | None = None) -> None:
        self._app = app
        self._token = token
        self.user_agent = user_agent or f"kernel/{version_info()['gitVersion']} (loopback)"

    # -- the typed verbs ---------------------------------------------------------------------

    async def get(self, path: str, params: Query = None) -> Any:
        return await self._call("GET", path, params=params)

    async def list(self, path: str, params: Query = None) -> Any:
        """GET of a collection (``labelSelector``, ``fieldSelector``, ``limit`` ... in params)."""
        return await self._call("GET", path, params=params)

    async def create(self, path: str, obj: Any, params: Query = None) -> Any:
        return await self._call("POST", path, obj, params=params)

    async def update(self, path: str, obj: Any, params: Query = None) -> Any:
        return await self._call("PUT", path, obj, params=params)

    async def patch(self, path: str, patch: Any, content_type: str = MERGE_PATCH,
                    params: Query = None) -> Any:
        """PATCH with ``content_type``: merge (default), ``application/json-patch+json``,
        ``application/strategic-merge-patch+json`` or ``application/apply-patch+yaml``."""
        return await self._call("PATCH", path, patch, content_type, params)

    async def delete(self, path: str, options: Any = None, params: Query = None) -> Any:
        """DELETE with optional DeleteOptions (``{"propagationPolicy": "Foreground"}``); returns
        the deleted object, or its state while finalizers hold it, or a Status."""
        return await self._call("DELETE", path, options, params=params)

    async def ensure(self, collection: str, obj: Any) -> bool:
        """Create ``obj`` in ``collection`` unless it is there, read first as kube's bootstrap
        hooks do (a restart finds it without a refused create); a create that loses to another
        writer (409: another --workers process) counts as found. Whether it created ``obj``."""
        try:
            await self.get(f"{collection}/{obj['metadata']['name']}")
            return False
        except StatusError as error:
            if error.code != 404:
                raise
        try:
            await self.create(collection, obj)
            return True
        except StatusError as error:
            if error.code != 409:
                raise
            return False

    async def _call(self, method: str, path: str, body: Any = None, content_type: str = JSON,
                    params: Query = None) -> Any:
        encoded = None if body is None else body if isinstance(body, bytes) else msgspec.json.encode(body)
        response = await self.request(method, path, encoded, {"content-type": content_type}
                                      if encoded is not None else None, params)
        if response.status >= 400:
            raise status_error(response)
        return response.json() if response.body else None

    # -- the generic request -----------------------------------------------------------------

    async def request(self, method: str, path: str, body: bytes | None = None,
                      headers: Mapping[str, str] | None = None, params: Query = None) -> Response:
        """Send one request through the filter chain; the whole response, whatever its status."""
        response = Response(0)
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response.status = message["status"]
                response.headers = _headers(message.get("headers", ()))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        done = trio.Event()  # the handler has answered: a later receive() sees a disconnect
        await self._app(self._scope(method, path, headers, params), _receiver(body, done), send)
        done.set()
        response.body = b"".join(chunks)
        return response

    @asynccontextmanager
    async def watch(self, path: str, params: Query = None) -> AsyncIterator[AsyncIterator[Any]]:
        """``async with client.watch(path, {"resourceVersion": rv}) as events:`` then
        ``async for event in events`` gives each ``{"type", "object"}`` event, decoded, until the
        server ends the watch; leaving the block hangs up (the server sees a disconnect). A watch
        refused outright raises its StatusError on entry."""
        params = {**(params or {}), "watch": "true"}
        started: trio.Event = trio.Event()
        head = Response(0)
        lines_in, lines_out = trio.open_memory_channel[bytes](0)
        hang_up = trio.Event()

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                head.status, head.headers = message["status"], _headers(message.get("headers", ()))
                started.set()
            elif message.get("body"):
                if head.status >= 400:
                    head.body += message["body"]
                else:
                    await lines_in.send(message["body"])

        async def serve() -> None:
            async with lines_in:
                await self._app(self._scope("GET", path, None, params), _receiver(None, hang_up), send)
            started.set()

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve)
                await started.wait()
                if head.status >= 400:
                    await _drain(lines_out)
                    raise status_error(head)
                try:
                    yield _events(lines_out)
                finally:
                    hang_up.set()
                    await _drain(lines_out)
        except BaseExceptionGroup as group:
            # The nursery wraps what the caller's block raised (the server's task answers every
            # error itself): hand it back as raised, as a client without a task would.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    def _scope(self, method: str, path: str, headers: Mapping[str, str] | None,
               params: Query) -> dict[str, Any]:
        path, _, query = path.partition("?")
        if params:
            query = "&".join(filter(None, (query, urlencode(params))))
        raw_headers = [(b"authorization", f"Bearer {self._token}".encode()),
                       (b"user-agent", self.user_agent.encode()),
                       (b"accept", JSON.encode())]
        for name, value in (headers or {}).items():
            raw_headers = [h for h in raw_headers if h[0] != name.lower().encode()]
            raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                "method": method, "scheme": "https", "path": unquote(path),
                "raw_path": quote(path, safe="/%:@!$&'()*+,;=").encode(), "root_path": "",
                "query_string": query.encode(), "headers": raw_headers,
                # no socket: no client address, and the server's address is its own name
                "client": None, "server": ("loopback", 0), "extensions": {}}


def _receiver(body: bytes | None, closed: trio.Event) -> Callable[[], Awaitable[dict[str, Any]]]:
    """ASGI receive: the body in one message, then (as a connection that stays open until the
    client hangs up) a disconnect once ``closed`` is set."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body or b"", "more_body": False}
        await closed.wait()
        return {"type": "http.disconnect"}

    return receive


def _headers(raw: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return headers


async def _events(chunks: trio.MemoryReceiveChannel[bytes]) -> AsyncIterator[Any]:
    """Watch events from the body chunks: one JSON document per line (a chunk may hold several
    lines or part of one)."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield msgspec.json.decode(line)


async def _drain(chunks: trio.MemoryReceiveChannel[bytes]) -> None:
    """Read the rest of a watch's body so the server's sends never block on a gone reader."""
    async with chunks:
        async for _ in chunks:
            pass
