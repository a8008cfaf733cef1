"""Unary gRPC calls awaited from trio without a worker thread.

A blocking stub call in ``trio.to_thread`` costs two thread switches per etcd request (the hop
to a worker and back), more than etcd itself needs for a read. gRPC's future API starts the call
from the trio thread instead; gRPC's own completion thread runs the done-callback, which only
hands the wake-up to trio (``TrioToken.run_sync_soon``). The trio task sleeps in
``wait_task_rescheduled`` meanwhile; a trio cancellation cancels the RPC.

Measured on the 2-core test machine with a 1 KiB Range (``bench/etcd.py`` and the figures in
bench/README.md): blocking call 0.60 ms, future + wake-up 0.85 ms, ``trio.to_thread`` 1.1-1.5 ms.
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
