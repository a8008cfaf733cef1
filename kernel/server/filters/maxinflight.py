"""WithMaxInFlightLimit: at most N read-only and M mutating requests at once, else 429.

Long-running requests are not counted, and system:masters is never limited (as in kube).
With ``metrics``, requests refused with 429 count in ``apiserver_request_total`` and the requests
holding a slot are ``apiserver_current_inflight_requests{request_kind}`` (read at scrape time,
where kube reports the maximum over the last second).
"""

from __future__ import annotations

import trio

from kernel.apimachinery import status
from kernel.authentication import MASTERS
from kernel.server.filters.instrument import record_dropped
from kernel.server.metrics import Metrics
from kernel.endpoints.request import Handler, Request


def with_max_in_flight_limit(handler: Handler, read_only: int, mutating: int,
                             metrics: Metrics | None = None) -> Handler:
    if not read_only and not mutating:
        return handler
    limiters = {False: trio.CapacityLimiter(read_only) if read_only else None,
                True: trio.CapacityLimiter(mutating) if mutating else None}
    if metrics is not None:
        kinds = {"readOnly": limiters[False], "mutating": limiters[True]}
        metrics.add_callback_gauge(
            "apiserver_current_inflight_requests", "Number of requests in flight of this "
            "apiserver per request kind (at scrape time).", "request_kind",
            lambda: [(kind, limiter.borrowed_tokens) for kind, limiter in kinds.items()
                     if limiter is not None])

    async def max_in_flight(request: Request) -> None:
        info = request.info
        limiter = limiters[info.is_mutating if info else True]
        if (limiter is None or info is None or info.is_long_running
                or (request.user is not None and MASTERS in request.user.groups)):
            await handler(request)
            return
        try:
            limiter.acquire_nowait()
        except trio.WouldBlock:
            if metrics is not None:
                record_dropped(metrics, request)
            await request.respond_error(status.too_many_requests(
                "Too many requests, please try again later.", 1))
            return
        try:
            await handler(request)
        finally:
            limiter.release()

    return max_in_flight
