"""WithHTTPLogging (k8s.io/apiserver/pkg/server/httplog): one ``HTTP`` line per request at -v=2.

The line carries verb (as the metrics report it: LIST, WATCH, APPLY...), URI, user, user agent,
source address, status, latency and audit ID (truncated to 64 characters, as kube does). The
filter is always installed, so that raising the verbosity at runtime (``PUT /debug/flags/v``,
the debug plugin) turns the lines on; below -v=2 it costs one ``isEnabledFor`` per request, which
``logging`` caches per logger until the levels change (bench/httplog.py measures it).
"""

from __future__ import annotations

import logging
import time

from kernel.logs import format_latency, level
from kernel.server.metrics import clean_scope, reported_verb
from kernel.endpoints.request import Handler, Request

log = logging.getLogger("kernel.httplog")
V2 = level(2)
MAX_AUDIT_ID_LENGTH = 64


def _source(request: Request) -> str:
    client = request.scope.get("client")
    if not client:
        return ""
    host, port = client[0], client[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _user_agent(request: Request) -> str:
    for name, value in request.scope["headers"]:
        if name.lower() == b"user-agent":
            return value.decode("latin-1")
    return ""


def with_http_logging(handler: Handler) -> Handler:
    enabled = log.isEnabledFor

    async def http_logging(request: Request) -> None:
        if not enabled(V2):
            await handler(request)
            return
        user_agent = _user_agent(request)  # read now: authentication rewrites the headers
        try:
            await handler(request)
        finally:
            latency = time.perf_counter() - request.received
            user = request.user
            log.log(V2, "HTTP", extra={"kv": (
                ("verb", reported_verb(request, clean_scope(request))),
                ("URI", request.request_uri),
                ("latency", format_latency(latency)),
                ("user", user.name if user is not None else ""),
                ("userAgent", user_agent),
                ("audit-ID", request.audit_id[:MAX_AUDIT_ID_LENGTH]),
                ("srcIP", _source(request)),
                ("resp", request.status),
            )})

    return http_logging
