"""Ways to make one etcd request from trio, per request, against a blocking call (the floor).

The options weighed for the etcd3 backend's request path (issue 18), each a Range of one 1 KiB
key on the same etcd, sequentially from one trio task, interleaved round by round:

- ``blocking``: pyetcd's stub called directly (blocks the event loop: the floor, not an option);
- ``to_thread``: that call in ``trio.to_thread`` (the backend before: two thread switches);
- ``future``: gRPC's future API from the trio thread, woken by gRPC's completion thread
  (``kernel_storage_etcd3.rpc.unary``) while no other call keeps that thread alive, so gRPC
  starts a new one per request;
- ``future, kept``: the same with the store's watch stream open (what ``Etcd3Storage.get``
  does): one completion thread for every request;
- ``JSON gateway``: etcd's HTTP gateway (``POST /v3/kv/range``) over one keep-alive HTTP/1.1
  connection driven by h11 in the trio thread: no thread at all, but etcd translates to gRPC.

    python bench/etcd_transports.py [--rounds 5] [--requests 500]
"""

from __future__ import annotations

import argparse
import base64
import functools
import statistics
import time
from collections.abc import Awaitable, Callable

import h11
import msgspec
import trio
from pyetcd import etcdrpc

from kernel_storage_etcd3 import Etcd3Storage, EtcdConfig, rpc
from kernel_storage_etcd3.testing import etcd_server

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


async def measure(url: str, rounds: int, requests: int) -> dict[str, list[float]]:
    store = Etcd3Storage(EtcdConfig.for_servers(url))
    await store.create(KEY, {"metadata": {"name": "x"}, "data": {"v": "v" * 1024}})
    host, port = url.removeprefix("http://").rsplit(":", 1)
    gateway = Gateway(await trio.open_tcp_stream(host, int(port)), host)
    stub = store._client.kvstub
    request = etcdrpc.RangeRequest(key=KEY.encode())
    blocking = functools.partial(stub.Range, request, 30)

    async def direct() -> None:
        blocking()

    async def in_thread() -> None:
        await trio.to_thread.run_sync(blocking)

    async def future() -> None:
        await rpc.unary(stub.Range, request, 30)

    async def kept() -> None:
        await store.get(KEY)

    async def json_gateway() -> None:
        await gateway.range(KEY.encode())

    options: dict[str, Callable[[], Awaitable[None]]] = {
        "blocking": direct, "to_thread": in_thread, "future": future, "future, kept": kept,
        "JSON gateway": json_gateway}
    times: dict[str, list[float]] = {name: [] for name in options}
    try:
        for _ in range(rounds):
            for name, op in options.items():
                if name == "future" and store._stream is not None:
                    store._stream.close()  # no call left to keep gRPC's completion thread
                    store._stream = None
                    await trio.sleep(0.05)
                began = time.perf_counter()
                for _ in range(requests):
                    await op()
                times[name].append((time.perf_counter() - began) / requests * 1e3)
    finally:
        await gateway.stream.aclose()
        await store.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with etcd_server() as etcd:
        times = trio.run(measure, etcd.url, args.rounds, args.requests)
    floor = statistics.median(times["blocking"])
    print(f"one Range of a 1 KiB key from trio, {args.rounds} rounds x {args.requests} requests "
          "(ms per request; ratio: median / blocking median)")
    print(f"{'':<16}{'median':>8}{'min':>8}{'max':>8}{'ratio':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<16}{median:8.3f}{min(values):8.3f}{max(values):8.3f}{median / floor:8.2f}")


if __name__ == "__main__":
    main()
