"""WithAuditInit: every request gets an audit ID, echoed in the ``Audit-Id`` response header.

The client's own ``Audit-ID`` request header is honoured (kept as sent); otherwise a random UUID
is made. The ID goes on every response the request gets, errors included, and into its log line.
"""

from __future__ import annotations

from kernel.apimachinery.meta import new_uid
from kernel.endpoints.request import Handler, Request

HEADER = b"audit-id"  # lower-case: HTTP/2 requires it, HTTP/1.1 clients match it case-blind


def _client_audit_id(request: Request) -> bytes:
    # A scan of the raw headers: cheaper than building request.headers for every request.
    for name, value in request.scope["headers"]:
        if len(name) == 8 and name.lower() == HEADER and value:
            return value
    return b""


def with_audit_init(handler: Handler) -> Handler:
    async def audit_init(request: Request) -> None:
        raw = _client_audit_id(request)
        if raw:
            request.audit_id = raw.decode("latin-1")
        else:
            request.audit_id = new_uid()
            raw = request.audit_id.encode()
        request.extra_headers.append((HEADER, raw))
        await handler(request)

    return audit_init
