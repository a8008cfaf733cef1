"""The request as the filters and handlers see it, and the ways to answer it.

The kernel's filters and handlers are ``async def handler(request: Request) -> None``; one
``Request`` is made per ASGI ``http`` scope and carries what the filters learn (request info,
user) so no filter re-parses what another already did.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import msgspec

from kernel.apimachinery.status import StatusError
from kernel.apimachinery.warningheader import warning_headers
from kernel.endpoints.request import recorded

if TYPE_CHECKING:
    from kernel.authentication.user import UserInfo
    from kernel.endpoints.request.requestinfo import RequestInfo

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[["Request"], Awaitable[None]]

JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"


class Headers(dict[str, str]):
    """Request headers by lower-cased name; lookups take any case (``headers["X-Api-Key"]``).

    Names are stored lower-cased, so the kernel's own lookups (already lower-case) hit at C speed:
    ``[]`` only reaches Python on a miss (``__missing__``), and ``get``/``in`` add one
    ``str.lower`` call. Written by hand because a general case-insensitive mapping (e.g.
    multidict's CIMultiDict) would fold every key on every access, hits included.
    """

    __slots__ = ()

    def __missing__(self, name: str) -> str:
        lowered = name.lower()
        if lowered == name:
            raise KeyError(name)
        return dict.__getitem__(self, lowered)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name.lower() if isinstance(name, str) else name)


class Request:
    __slots__ = ("scope", "receive", "_send", "info", "user", "original_user", "response_started",
                 "_headers", "_query", "extra_headers", "status", "audit_id", "unrouted", "received",
                 "warnings", "audit_annotations", "audit")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self._send = send
        self.info: RequestInfo | None = None
        self.user: UserInfo | None = None
        # When the request impersonates (Impersonate-* headers), the authenticated user; ``user``
        # is then the impersonated one. Both are kept for audit, as kube's audit event does.
        self.original_user: UserInfo | None = None
        self.response_started = False
        self._headers: Headers | None = None
        self._query: dict[str, list[str]] | None = None
        # Headers filters want on whatever response is written (e.g. Connection: close).
        self.extra_headers: list[tuple[bytes, bytes]] = []
        self.status = 0  # the response's status code once it started (for logs and metrics)
        self.audit_id = ""  # set by WithAuditInit
        self.unrouted = False  # answered "no such path": kept out of the request metrics
        self.received = time.perf_counter()  # kube's request-received timestamp, for latencies
        # Warning texts for the response and annotations for the audit event, which code serving
        # the request adds through kernel.endpoints.request.recorded (admission among it).
        self.warnings, self.audit_annotations = recorded.start()
        # The audit event being built (kernel.audit.context.AuditContext) when the request is
        # audited; None otherwise, so the checks below cost one attribute test.
        self.audit: Any = None

    @property
    def method(self) -> str:
        return self.scope["method"]

    @property
    def path(self) -> str:
        return self.scope["path"]

    @property
    def request_uri(self) -> str:
        """The path and query as the client sent them (Go's ``req.RequestURI``), for logs and
        audit events."""
        scope = self.scope
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else scope["path"]
        query = scope["query_string"]
        return f"{path}?{query.decode('latin-1')}" if query else path

    @property
    def headers(self) -> Headers:
        """Header names lower-cased, looked up in any case; repeated headers joined with ``,``
        as HTTP allows."""
        if self._headers is None:
            headers: dict[str, str] = {}  # built plain, then copied in C: Headers' `in` is Python
            for raw_name, raw_value in self.scope["headers"]:
                name = raw_name.decode("latin-1").lower()
                value = raw_value.decode("latin-1")
                headers[name] = f"{headers[name]},{value}" if name in headers else value
            self._headers = Headers(headers)
        return self._headers

    def remove_header(self, name: str) -> None:
        """Drop a header (lower-case ``name``) from the scope and from ``headers``, which stays
        built: a rebuild per request would cost more than the case-insensitive lookups save."""
        raw = name.encode("latin-1")
        self.scope["headers"] = [(k, v) for k, v in self.scope["headers"] if k.lower() != raw]
        if self._headers is not None:
            dict.pop(self._headers, name, None)

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            raw = self.scope["query_string"]
            # Most requests have no query: parse_qs would still cost a few µs for nothing.
            self._query = parse_qs(raw.decode("latin-1"), keep_blank_values=True) if raw else {}
        return self._query

    def query_value(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def client_certificates(self) -> list[str]:
        """The TLS client certificate chain, PEM, leaf first (ASGI TLS extension; on Python 3.11
        only the leaf). The handshake verified its issuer and signature against the client CAs,
        but not its validity period: authenticators check that (kube answers 401, not a broken
        connection), see :func:`kernel.server.tls.create_ssl_context`."""
        tls = self.scope.get("extensions", {}).get("tls") or {}
        return tls.get("client_cert_chain") or []

    async def body(self, limit: int) -> bytes:
        """Read the whole body; a body over ``limit`` bytes is a 413 Status."""
        chunks, size = [], 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise StatusError(413, "RequestEntityTooLarge",
                                  f"Request entity too large: limit is {limit}")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
            self.status = message["status"]
            if self.audit is not None:
                self.audit.response_started(self.status)
            extra = self.extra_headers + warning_headers(self.warnings) if self.warnings else self.extra_headers
            if extra:
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await self._send(message)

    async def respond(self, status: int, body: bytes, content_type: bytes = JSON,
                      headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        await self.send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type),
                        (b"content-length", str(len(body)).encode()),
                        *headers],
        })
        await self.send({"type": "http.response.body", "body": b"" if self.method == "HEAD" else body})

    async def respond_json(self, obj: Any, status: int = 200) -> None:
        await self.respond(status, msgspec.json.encode(obj))

    async def respond_text(self, text: str, status: int = 200) -> None:
        await self.respond(status, text.encode(), TEXT, [(b"x-content-type-options", b"nosniff")])

    async def respond_error(self, error: StatusError) -> None:
        # kube's NotFound handler is not instrumented: a path no handler serves must not add
        # a label set per made-up path (an object's 404 carries details and is counted).
        self.unrouted = error.code == 404 and not error.details
        if self.audit is not None:
            self.audit.log_status(error.status())
        await self.respond(error.code, error.body(), JSON, error.headers)
