"""etcd's gRPC calls over HTTP/2 from the trio thread (kernel_storage_etcd3.transport): no
threads, cancellation, flow control, stream IDs, a peer that closed or stopped answering."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import trio

from kernel.storage.errors import StorageTimeoutError
from kernel_storage_etcd3 import Etcd3Storage, EtcdConfig, transport

KEY = "/registry/configmaps/default/x"


def connection_of(store: Etcd3Storage) -> transport.Connection:
    connection = store._channels[store.endpoint]._connection
    assert connection is not None
    return connection


async def test_a_cancelled_request_leaves_the_store_usable(etcd_storage: Etcd3Storage) -> None:
    await etcd_storage.create(KEY, {"metadata": {"name": "x"}})
    for _ in range(50):  # cancelled at every stage: before sending, in flight, answered
        with trio.move_on_after(0):
            await etcd_storage.get(KEY)
        with trio.CancelScope() as scope:
            scope.cancel()
            await etcd_storage.get(KEY)
    await trio.sleep(0.2)  # late answers to the cancelled calls arrive and are dropped
    assert (await etcd_storage.get(KEY))["metadata"]["name"] == "x"
    assert not connection_of(etcd_storage)._calls  # none left behind


async def test_requests_and_watches_start_no_thread(etcd_storage: Etcd3Storage) -> None:
    before = threading.active_count()
    names: list[str] = []

    async def create(i: int) -> None:
        created = await etcd_storage.create(f"/registry/configmaps/default/c{i}",
                                            {"metadata": {"name": f"c{i}"}})
        names.append(created["metadata"]["name"])

    async with etcd_storage.watch("/registry/configmaps/", revision=0) as events:
        async with trio.open_nursery() as nursery:
            for i in range(64):
                nursery.start_soon(create, i)
        seen = [(await events.__anext__()).object["metadata"]["name"] for _ in range(64)]
    assert sorted(names) == sorted(seen) == sorted(f"c{i}" for i in range(64))
    assert threading.active_count() == before


async def test_a_value_larger_than_the_frame_size_and_etcds_window(etcd_storage: Etcd3Storage) -> None:
    # etcd's default request limit is 1.5 MiB; its HTTP/2 window starts at 64 KiB and frames
    # at 16 KiB, so the request waits for WINDOW_UPDATEs between frames
    big = "x" * (1024 * 1024)
    await etcd_storage.create(KEY, {"metadata": {"name": "x"}, "data": {"v": big}})
    assert (await etcd_storage.get(KEY))["data"]["v"] == big
    assert (await etcd_storage.get_list("/registry/configmaps/")).items[0]["data"]["v"] == big


async def test_a_connection_out_of_stream_ids_is_replaced(etcd_storage: Etcd3Storage) -> None:
    await etcd_storage.create(KEY, {"metadata": {"name": "x"}})
    old = connection_of(etcd_storage)
    old._next_stream_id = transport.LAST_STREAM_ID - 2  # two stream IDs left
    async with trio.open_nursery() as nursery:
        for _ in range(8):
            nursery.start_soon(etcd_storage.get, KEY)
    assert old.closed == "out of stream IDs"
    new = connection_of(etcd_storage)
    assert new is not old and not new.closed
    assert (await etcd_storage.get(KEY))["metadata"]["name"] == "x"


async def test_a_call_after_etcd_closed_the_connection_goes_on_a_new_one(own_etcd) -> None:
    store = Etcd3Storage(EtcdConfig.for_servers(own_etcd.url))
    await store.create(KEY, {"metadata": {"name": "x"}})
    old = connection_of(store)
    own_etcd.stop()
    own_etcd.start()
    # no checkpoint since: the reader has not seen the end, the call finds it before sending
    # (the socket's end, or a reset) or fails to send on it and is sent again
    assert (await store.get(KEY))["metadata"]["name"] == "x"
    assert old.closed and connection_of(store) is not old
    await store.close()


def stopped(pid: int) -> None:
    """Until every thread of ``pid`` is stopped (SIGSTOP takes effect as each one runs)."""
    deadline = time.monotonic() + 10
    while any(Path(f"{task}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T"
              for task in Path(f"/proc/{pid}/task").iterdir()):
        assert time.monotonic() < deadline, "etcd did not stop"
        time.sleep(0.001)


async def test_a_peer_that_stops_answering(own_etcd, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Etcd3Storage(EtcdConfig.for_servers(own_etcd.url, request_timeout=0.5))
    await store.create(KEY, {"metadata": {"name": "x"}})
    assert own_etcd.process is not None
    async with store.watch("/registry/configmaps/", revision=0) as events:
        first = connection_of(store)
        own_etcd.process.send_signal(signal.SIGSTOP)
        try:
            stopped(own_etcd.process.pid)
            with pytest.raises(StorageTimeoutError):  # a call: its deadline, then 504
                await store.get(KEY)
            assert first.closed == "no answer from etcd"
            monkeypatch.setattr(transport, "KEEPALIVE_TIME", 0.3)  # for the next connection
            monkeypatch.setattr(transport, "KEEPALIVE_TIMEOUT", 0.3)
            await store._channels[store.endpoint].connection(5)  # a new one (the kernel accepts)
            second = connection_of(store)
            second._calls[-1] = transport._Call(0)  # as if a call were in flight
            with trio.fail_after(10):  # with a call open, a ping after 0.3 s; unanswered: closed
                while not second.closed:
                    await trio.sleep(0.05)
            assert second.closed == "etcd did not answer a keepalive ping"
        finally:
            own_etcd.process.send_signal(signal.SIGCONT)
        await store.create("/registry/configmaps/default/y", {"metadata": {"name": "y"}})
        with trio.fail_after(10):  # the watch resumed on a new connection, missing nothing
            assert (await events.__anext__()).object["metadata"]["name"] == "y"
    await store.close()


def test_the_backend_runs_without_grpcio_and_pyetcd_still_imports(etcd, tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(f"""
import sys
import trio
from kernel_storage_etcd3 import Etcd3Storage, EtcdConfig, etcdpb

async def main():
    store = Etcd3Storage(EtcdConfig.for_servers({etcd.url!r}, prefix="/no-grpc"))
    async with store.watch("/registry/configmaps/", revision=0) as events:
        await store.create("/registry/configmaps/default/a", {{"metadata": {{"name": "a"}}}})
        assert (await store.get("/registry/configmaps/default/a"))["metadata"]["name"] == "a"
        assert (await events.__anext__()).object["metadata"]["name"] == "a"
    await store.close()

trio.run(main)
print(sorted(m for m in ("grpc", "pyetcd", "pyetcd.client") if m in sys.modules))
import pyetcd  # the real package, with the same generated messages
print(pyetcd.etcdrpc.RangeRequest is etcdpb.rpc.RangeRequest, hasattr(pyetcd, "client"))
""")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["[]", "True True"]


def test_prefix_range_end_is_clientv3s() -> None:
    from kernel_storage_etcd3.codec import Keys

    assert Keys.range_end(b"/registry/configmaps/") == b"/registry/configmaps0"
    assert Keys.range_end(b"a\xff") == b"b"  # the byte after the last below 0xff, no more
    assert Keys.range_end(b"\xff\xff") == b"\0"  # every key from there on
