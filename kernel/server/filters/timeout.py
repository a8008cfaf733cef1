"""WithTimeoutForNonLongRunningRequests: a request not answered within --request-timeout is a 504."""

from __future__ import annotations

import trio

from kernel.apimachinery import status
from kernel.server.options import duration
from kernel.endpoints.request import Handler, Request


def _requested_timeout(request: Request, default: float) -> float:
    """A ``?timeout=`` shorter than the server's applies (kubectl sends ``/version?timeout=5s``)."""
    if b"timeout=" not in request.scope["query_string"]:
        return default  # most requests: no query to parse
    text = request.query_value("timeout")
    if text:
        try:
            asked = duration(text)
        except ValueError:
            return default
        if 0 < asked < default:
            return asked
    return default


def with_timeout_for_non_long_running_requests(handler: Handler, timeout: float) -> Handler:
    async def request_timeout(request: Request) -> None:
        if request.info is not None and request.info.is_long_running:
            await handler(request)
            return
        # A CancelScope with a deadline: move_on_after's checks and call cost a little more.
        with trio.CancelScope(deadline=trio.current_time() + _requested_timeout(request, timeout)) as scope:
            await handler(request)
        if scope.cancelled_caught:
            if request.response_started:
                raise trio.BrokenResourceError("request timed out after its response started")
            await request.respond_error(status.timeout(
                "request did not complete within requested timeout - context deadline exceeded"))

    return request_timeout
