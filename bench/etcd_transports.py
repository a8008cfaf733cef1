"""Ways to make one etcd request from trio, per request, against a blocking call (the floor).

The options weighed for the etcd3 backend's request path (issue 18), each a Range of one 1 KiB
key on the same etcd, sequentially from one trio task, interleaved round by round:

- ``blocking``: pyetcd's stub called directly (blocks the event loop: the floor, not an option);
- ``to_thread``: that call in ``trio.to_thread`` (the backend before: two thread switches);
- ``future``: gRPC's future API from the trio thread, woken by gRPC's completion thread with
  ``TrioToken.run_sync_soon`` (the backend until the HTTP/2 transport) while no other call keeps
  that thread alive, so gRPC starts a new one per request;
- ``future, kept``: the same with a long-lived Watch call open on the channel (as the backend
  kept its watch stream open): one completion thread for every request;
- ``JSON gateway``: etcd's HTTP gateway (``POST /v3/kv/range``) over one keep-alive HTTP/1.1
  connection driven by h11 in the trio thread: no thread at all, but etcd translates to gRPC;
- ``HTTP/2 in trio``: the backend's calls (``kernel_storage_etcd3.transport``): gRPC over one
  HTTP/2 connection, written and read by the trio thread; no thread, no translation.

    python bench/etcd_transports.py [--rounds 5] [--requests 500]
"""

from __future__ import annotations

import argparse
import base64
import functools
import queue
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import h11
import msgspec
import trio
from pyetcd import etcdrpc

from kernel_storage_etcd3 import Etcd3Storage, EtcdConfig
from kernel_storage_etcd3.store import RANGE
from kernel_storage_etcd3.testing import etcd_server, raw_client

KEY = "/registry/configmaps/default/x"


class Gateway:
    """etcd's JSON gateway over one HTTP/1.1 keep-alive connection (h11 on a trio stream)."""

    def __init__(self, stream: trio.SocketStream, host: str) -> None:
        self.stream, self.host = stream, host
        self.connection = h11.Connection(h11.CLIENT)

    async def range(self, key: bytes) -> bytes:
        body = msgspec.json.encode({"key": base64.b64encode(key).decode()})
        connection = self.connection
        await self.stream.send_all(
            connection.send(h11.Request(method="POST", target="/v3/kv/range", headers=[
                ("Host", self.host), ("Content-Length", str(len(body))),
                ("Content-Type", "application/json")]))
            + connection.send(h11.Data(data=body)) + connection.send(h11.EndOfMessage()))
        chunks = []
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await self.stream.receive_some(65536))
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
        connection.start_next_cycle()
        return base64.b64decode(msgspec.json.decode(b"".join(chunks))["kvs"][0]["value"])


async def future_call(method: Any, request: Any, timeout: float) -> Any:
    """``method(request)`` with gRPC's future API, the trio task woken from gRPC's thread."""
    future = method.future(request, timeout)
    token, task = trio.lowlevel.current_trio_token(), trio.lowlevel.current_task()
    future.add_done_callback(lambda _: token.run_sync_soon(trio.lowlevel.reschedule, task))
    await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.FAILED)
    return future.result()


async def measure(url: str, rounds: int,
                  requests: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    store = Etcd3Storage(EtcdConfig.for_servers(url))
    await store.create(KEY, {"metadata": {"name": "x"}, "data": {"v": "v" * 1024}})
    host, port = url.removeprefix("http://").rsplit(":", 1)
    gateway = Gateway(await trio.open_tcp_stream(host, int(port)), host)
    raw = raw_client(url)
    stub = raw.kvstub
    request = etcdrpc.RangeRequest(key=KEY.encode())
    blocking = functools.partial(stub.Range, request, 30)
    watch_requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
    keeper = None  # a long-lived call that keeps gRPC's completion thread

    async def direct() -> None:
        blocking()

    async def in_thread() -> None:
        await trio.to_thread.run_sync(blocking)

    async def future() -> None:
        await future_call(stub.Range, request, 30)

    async def json_gateway() -> None:
        await gateway.range(KEY.encode())

    async def native() -> None:
        await store._rpc(KEY, RANGE, request)

    options: dict[str, Callable[[], Awaitable[None]]] = {
        "blocking": direct, "to_thread": in_thread, "future": future, "future, kept": future,
        "JSON gateway": json_gateway, "HTTP/2 in trio": native}
    times: dict[str, list[float]] = {name: [] for name in options}
    cpus: dict[str, list[float]] = {name: [] for name in options}  # this process's CPU
    try:
        for _ in range(rounds):
            for name, op in options.items():
                if name == "future, kept":
                    keeper = etcdrpc.WatchStub(raw.channel).Watch(
                        iter(watch_requests.get, None))
                elif keeper is not None:
                    keeper.cancel()
                    watch_requests.put(None)
                    keeper = None
                    await trio.sleep(0.05)
                began, cpu = time.perf_counter(), time.process_time()
                for _ in range(requests):
                    await op()
                times[name].append((time.perf_counter() - began) / requests * 1e3)
                cpus[name].append((time.process_time() - cpu) / requests * 1e3)
    finally:
        await gateway.stream.aclose()
        await store.close()
        raw.close()
    return times, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with etcd_server() as etcd:
        times, cpus = trio.run(measure, etcd.url, args.rounds, args.requests)
    floor = statistics.median(times["blocking"])
    print(f"one Range of a 1 KiB key from trio, {args.rounds} rounds x {args.requests} requests "
          "(ms per request; ratio: median / blocking median; cpu: this process's, all threads)")
    print(f"{'':<16}{'median':>8}{'min':>8}{'max':>8}{'ratio':>8}{'cpu':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<16}{median:8.3f}{min(values):8.3f}{max(values):8.3f}{median / floor:8.2f}"
              f"{statistics.median(cpus[name]):8.3f}")

if __name__ == "__main__":
    main()
