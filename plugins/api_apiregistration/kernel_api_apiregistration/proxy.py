"""The aggregator: the front of the server chain (kube-aggregator's apiserver handlers).

Requests for a group-version a remote APIService names are proxied to its backend with the
user in front-proxy headers; ``/apis`` (legacy and aggregated) and ``/apis/<group>`` of remote
groups are merged into the kernel's own discovery; everything else goes to the delegate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import trio

from kernel.apimachinery import status
from kernel.endpoints.request import Handler, Request

from kernel_api_apiregistration.backend import Backend, forwarded_headers, proxy_headers

if TYPE_CHECKING:
    import httpx  # imported when a remote APIService is first built (see backend.py)

#: kube's limit on a request body it reads whole (3 MiB); watches and gets have none.
MAX_BODY = 3 * 1024 * 1024


def _service_unavailable(message: str = "service unavailable") -> status.StatusError:
    return status.service_unavailable(message)


class Aggregator:
    """``async handler(request)``: proxy, merged discovery, or the delegate."""

    def __init__(self, delegate: Handler, backends: Callable[[], dict[str, Backend]],
                 stopping: Callable[[], Awaitable[None]]) -> None:
        self.delegate = delegate
        self.backends = backends  # APIService name → Backend, kept current by the controller
        self.stopping = stopping  # returns once the server stops serving: proxied watches end

    def _remote(self, group: str, version: str | None = None) -> list[Backend]:
        return [b for b in self.backends().values()
                if b.group == group and (version is None or b.version == version)]

    async def __call__(self, request: Request) -> None:
        path = request.path
        if not self.backends() or not path.startswith(("/apis", "/openapi/v3")):
            await self.delegate(request)  # the hot path: nothing remote, or not an API path
            return
        parts = path.rstrip("/").split("/")
        if parts[:2] == ["", "apis"] and len(parts) >= 3 and parts[2]:
            backends = self._remote(parts[2], parts[3] if len(parts) >= 4 else None)
            if backends and len(parts) >= 4:
                await self._proxy(request, backends[0])
                return
            available = [b for b in backends if b.available]
            if available and len(parts) == 3:
                await self._group(request, parts[2], available)
                return
        elif path.rstrip("/") == "/apis" and request.method in ("GET", "HEAD"):
            await self._merged(request, self._merge)
            return
        elif path == "/openapi/v3" and request.method in ("GET", "HEAD"):
            await self._merged(request, self._merge_openapi)
            return
        elif parts[:4] == ["", "openapi", "v3", "apis"] and len(parts) == 6:
            backends = self._remote(parts[4], parts[5])
            if backends:  # the backend's own document, as kube's aggregator proxies it
                await self._proxy(request, backends[0])
                return
        await self.delegate(request)

    async def _group(self, request: Request, group: str, backends: list[Backend]) -> None:
        versions = [{"groupVersion": f"{group}/{b.version}", "version": b.version} for b in backends]
        await request.respond_json({"kind": "APIGroup", "apiVersion": "v1", "name": group,
                                    "versions": versions, "preferredVersion": versions[0]})

    async def _merged(self, request: Request, merge: Callable[[dict[str, Any]], None]) -> None:
        """The delegate's JSON document (``/apis``, ``/openapi/v3``) with the remote parts added."""
        captured: dict[str, Any] = {"body": []}

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                captured["status"], captured["headers"] = message["status"], message.get("headers", [])
            else:
                captured["body"].append(message.get("body", b""))

        request.remove_header("if-none-match")  # the merged document is not the delegate's
        inner = Request({**request.scope, "method": "GET"}, request.receive, capture)
        inner.user, inner.info = request.user, request.info
        await self.delegate(inner)
        headers = {k.lower(): v for k, v in captured.get("headers", [])}
        content_type = headers.get(b"content-type", b"application/json")
        if captured.get("status") != 200:
            await request.respond(captured.get("status", 500), b"".join(captured["body"]), content_type)
            return
        document = msgspec.json.decode(b"".join(captured["body"]))
        merge(document)
        await request.respond(200, msgspec.json.encode(document), content_type)

    def _merge_openapi(self, document: dict[str, Any]) -> None:
        for backend in self.backends().values():
            if backend.available and backend.openapi:
                document.setdefault("paths", {})[f"apis/{backend.group}/{backend.version}"] = backend.openapi

    def _merge(self, document: dict[str, Any]) -> None:
        backends = [b for b in self.backends().values() if b.available]
        if document.get("kind") == "APIGroupList":
            groups = {g["name"]: g for g in document.get("groups", [])}
            for backend in backends:
                entry = groups.get(backend.group)
                version = {"groupVersion": f"{backend.group}/{backend.version}", "version": backend.version}
                if entry is None:
                    entry = groups[backend.group] = {"name": backend.group, "versions": [],
                                                     "preferredVersion": version}
                    document.setdefault("groups", []).append(entry)
                if version not in entry["versions"]:
                    entry["versions"].append(version)
            return
        items = {(i.get("metadata") or {}).get("name", ""): i for i in document.get("items", [])}
        for backend in backends:
            if not backend.discovery:
                continue
            item = items.get(backend.group)
            if item is None:
                item = items[backend.group] = {"metadata": {"name": backend.group}, "versions": []}
                document.setdefault("items", []).append(item)
            if all(v.get("version") != backend.version for v in item["versions"]):
                item["versions"].append(backend.discovery)

    async def _proxy(self, request: Request, backend: Backend) -> None:
        if not backend.available or backend.client is None:
            await request.respond_error(_service_unavailable())
            return
        import httpx

        user = request.user
        body = b"" if request.method in ("GET", "HEAD") else await request.body(MAX_BODY)
        headers = forwarded_headers(request.scope["headers"])
        if user is not None:
            headers += proxy_headers(user.name, list(user.groups), dict(user.extra))
        path = request.scope.get("raw_path") or request.path.encode()
        query = request.scope.get("query_string", b"")
        url = path.decode("latin-1") + (("?" + query.decode("latin-1")) if query else "")
        outgoing = backend.client.build_request(request.method, url, headers=headers, content=body,
                                                extensions=backend.extensions)
        try:
            response = await backend.client.send(outgoing, stream=True)
        except httpx.HTTPError as error:
            await request.respond_error(_service_unavailable(f"error trying to reach service: {error}"))
            return
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_cancel_when, nursery.cancel_scope, _disconnected(request))
                nursery.start_soon(_cancel_when, nursery.cancel_scope, self.stopping())
                await self._relay(request, response)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await response.aclose()
                if request.response_started:  # cut short: end the response (a closed watch)
                    await _end(request)

    async def _relay(self, request: Request, response: httpx.Response) -> None:
        """The backend's answer as it streams (watches, logs), chunk by chunk."""
        import httpx

        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.multi_items()
                   if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length")]
        await request.send({"type": "http.response.start", "status": response.status_code,
                            "headers": headers})
        try:
            async for chunk in response.aiter_raw():
                if chunk:
                    await request.send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.HTTPError:
            pass  # the backend went away mid-stream: end the response, as a closed watch does


async def _end(request: Request) -> None:
    try:
        await request.send({"type": "http.response.body", "body": b"", "more_body": False})
    except Exception:  # noqa: BLE001 - already ended, or the client is gone
        pass


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _cancel_when(scope: trio.CancelScope, event: Awaitable[None]) -> None:
    await event
    scope.cancel()
