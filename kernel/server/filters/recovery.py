"""WithPanicRecovery: an unexpected exception becomes a 500 Status without internals."""

from __future__ import annotations

import logging

from kernel.apimachinery import status
from kernel.endpoints.request import Handler, Request

log = logging.getLogger("kernel.server.filters")


def with_panic_recovery(handler: Handler) -> Handler:
    async def recovery(request: Request) -> None:
        try:
            await handler(request)
        except Exception:
            log.exception("panic serving %s %s", request.method, request.path)
            if not request.response_started:
                await request.respond_error(status.internal_error())
            else:
                raise  # headers are out: abort the connection rather than send a truncated body

    return recovery
