"""WithWaitGroup: count non-long-running requests so shutdown can drain them.

Once the server no longer accepts new requests, with ``--shutdown-send-retry-after`` new requests
get 429 with ``Retry-After`` and ``Connection: close`` while the listener stays open for the drain.
"""

from __future__ import annotations

from kernel.apimachinery import status
from kernel.server.lifecycle import LifecycleSignals, WaitGroup
from kernel.endpoints.request import Handler, Request


# Load balancers keep probing these during the drain; kube exempts them too.
HEALTH_PATHS = frozenset({"/readyz", "/livez", "/healthz"})


def with_wait_group(handler: Handler, in_flight: WaitGroup, signals: LifecycleSignals,
                    send_retry_after: bool) -> Handler:
    async def wait_group(request: Request) -> None:
        if (send_retry_after and signals.not_accepting_new_requests.is_set()
                and request.path not in HEALTH_PATHS):
            request.extra_headers.append((b"connection", b"close"))
            await request.respond_error(status.too_many_requests(
                "The apiserver is shutting down, please try again later.", 5))
            return
        if request.info is not None and request.info.is_long_running:
            await handler(request)
            return
        in_flight.add()  # WaitGroup.track() inlined: a generator context manager per request costs
        try:
            await handler(request)
        finally:
            in_flight.done()

    return wait_group
