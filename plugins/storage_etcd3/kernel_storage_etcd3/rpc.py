"""Unary gRPC calls awaited from trio without a worker thread.

A blocking stub call in ``trio.to_thread`` needs a worker thread per request in flight and two
thread switches each. gRPC's future API starts the call from the trio thread instead; gRPC's
completion thread runs the done-callback, which only hands the wake-up to trio
(``TrioToken.run_sync_soon``). The trio task sleeps in ``wait_task_rescheduled`` meanwhile; a trio
cancellation cancels the RPC. gRPC keeps its completion thread only while a call is in flight on
the channel, so the store keeps its watch stream open (``Etcd3Storage._keep_completion_thread``).
``bench/etcd_transports.py`` compares this with the other ways (figures in bench/README.md).
"""

from __future__ import annotations

from typing import Any

import trio


async def unary(method: Any, request: Any, timeout: float | None, *,
                credentials: Any = None, metadata: Any = None) -> Any:
    """``method(request)`` (a unary-unary multi-callable of a stub), its response or its
    grpc.RpcError; a ValueError when the channel is closed."""
    future = method.future(request, timeout, credentials=credentials, metadata=metadata)
    token = trio.lowlevel.current_trio_token()
    task = trio.lowlevel.current_task()
    waiting = True

    def wake() -> None:  # in the trio thread
        if waiting:
            trio.lowlevel.reschedule(task)

    def done(_: Any) -> None:  # in gRPC's thread (or at once, if the call already ended)
        try:
            token.run_sync_soon(wake)
        except trio.RunFinishedError:
            pass

    def abort(_: Any) -> trio.lowlevel.Abort:
        nonlocal waiting
        waiting = False
        future.cancel()
        return trio.lowlevel.Abort.SUCCEEDED

    future.add_done_callback(done)
    try:
        await trio.lowlevel.wait_task_rescheduled(abort)
    finally:
        waiting = False
    return future.result()
