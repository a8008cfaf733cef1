"""kube's buffered audit backend (kernel_audit.batch) around recording delegates, on trio's mock
clock (autojump: time moves only when every task waits, so batch timings are exact)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import pytest
import trio
from prometheus_client import CollectorRegistry

from kernel.audit import Backend
from kernel_audit.batch import (
    BATCH, BLOCKING, BLOCKING_STRICT, BatchConfig, BufferedBackend, Event, UnbatchedBackend, wrap,
)

NO_THROTTLE = BatchConfig(buffer_size=100, max_batch_size=3, max_batch_wait=30.0, throttle_enable=False)


class Recorder:
    """A delegate that records (time, audit IDs) of each batch; ``pause`` seconds per send, or
    until ``release`` is set when ``hold``; ``fail`` raises instead."""

    def __init__(self, name: str = "recorder", pause: float = 0.0, hold: bool = False,
                 fail: bool = False) -> None:
        self.name = name
        self.pause, self.hold, self.fail = pause, hold, fail
        self.release = trio.Event()
        self.started: list[list[str]] = []
        self.batches: list[tuple[float, list[str]]] = []
        self.closed = False

    async def send(self, events: Sequence[Event]) -> None:
        ids = [event["auditID"] for event in events]
        self.started.append(ids)
        if self.hold:
            await self.release.wait()
        await trio.sleep(self.pause)
        if self.fail:
            raise RuntimeError("webhook unreachable")
        self.batches.append((trio.current_time(), ids))

    async def aclose(self) -> None:
        self.closed = True


def events(*ids: Any) -> list[dict[str, Any]]:
    return [{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": str(i), "stage": "ResponseComplete"}
            for i in ids]


def errors(registry: CollectorRegistry, plugin: str) -> float:
    return registry.get_sample_value("apiserver_audit_error_total", {"plugin": plugin}) or 0.0


async def test_full_batches_go_at_once_and_the_rest_after_max_wait(autojump_clock: Any) -> None:
    delegate = Recorder()
    backend = BufferedBackend(delegate, NO_THROTTLE)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        start = trio.current_time()
        assert backend.process_events(events(*range(7))) is True
        await trio.sleep(1)
        # concurrent sends: trio schedules them in any order
        assert sorted(ids for _, ids in delegate.batches) == [["0", "1", "2"], ["3", "4", "5"]]
        assert all(at == start for at, _ in delegate.batches)
        await trio.sleep(40)
        assert delegate.batches[2] == (start + 30, ["6"])  # the timer of the third collection
        await backend.shutdown()
    assert len(delegate.batches) == 3 and delegate.closed


async def test_a_partial_batch_waits_max_wait_from_the_start_of_its_collection(autojump_clock: Any) -> None:
    delegate = Recorder()
    backend = BufferedBackend(delegate, BatchConfig(max_batch_size=400, max_batch_wait=30.0))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        start = trio.current_time()
        await trio.sleep(10)
        backend.process_events(events("a"))
        await trio.sleep(5)
        backend.process_events(events("b", "c"))
        await trio.sleep(60)
        assert delegate.batches == [(start + 30, ["a", "b", "c"])]
        await backend.shutdown()


async def test_a_wait_of_zero_sends_what_is_buffered(autojump_clock: Any) -> None:
    delegate = Recorder()
    backend = BufferedBackend(delegate, BatchConfig(max_batch_size=400, max_batch_wait=0, throttle_enable=False))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        backend.process_events(events(1, 2))
        await trio.sleep(1)
        backend.process_events(events(3))
        await trio.sleep(1)
        assert [ids for _, ids in delegate.batches] == [["1", "2"], ["3"]]  # a second apart
        await backend.shutdown()


async def test_the_throttle_lets_a_burst_through_then_qps_batches_a_second(autojump_clock: Any) -> None:
    delegate = Recorder()
    config = BatchConfig(max_batch_size=1, throttle_enable=True, throttle_qps=2, throttle_burst=3)
    backend = BufferedBackend(delegate, config)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        start = trio.current_time()
        backend.process_events(events(*range(7)))
        await trio.sleep(10)
        times = [at - start for at, _ in delegate.batches]
        assert times == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5, 2.0])
        await backend.shutdown()


async def test_a_full_buffer_drops_and_counts_and_still_answers_true(autojump_clock: Any,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    delegate = Recorder()
    backend = BufferedBackend(delegate, BatchConfig(buffer_size=5, max_batch_size=2), registry)
    # not running yet: nothing drains the buffer
    assert backend.process_events(events(*range(4))) is True
    assert backend.process_events(events(4, 5, 6)) is True
    assert errors(registry, "buffered") == 2
    assert [r.getMessage() for r in caplog.records] == [
        "Error in audit plugin 'buffered' affecting 2 audit events: audit buffer queue blocked "
        "(audit IDs: 5, 6)"]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        await backend.shutdown()
    assert sorted(i for _, ids in delegate.batches for i in ids) == ["0", "1", "2", "3", "4"]
    assert errors(registry, "buffered") == 2


async def test_process_events_never_waits_for_a_slow_delegate(autojump_clock: Any) -> None:
    """Structural, not timed: process_events is a plain function; with a delegate taking 5 s per
    batch (mock clock), thousands of calls return True in no time and lose nothing."""
    assert not inspect.iscoroutinefunction(BufferedBackend.process_events)
    registry = CollectorRegistry()
    delegate = Recorder(pause=5)
    backend = BufferedBackend(delegate, BatchConfig(max_batch_size=10, throttle_enable=False), registry)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        for i in range(50):
            before = trio.current_time()
            for j in range(100):
                assert backend.process_events(events(f"{i}-{j}")) is True
            assert trio.current_time() == before
            await trio.sleep(0.1)  # the batcher collects; sends are in flight
        assert delegate.started and not delegate.batches  # every send still within its 5 s
        await backend.shutdown()
    assert sum(len(ids) for _, ids in delegate.batches) == 5000
    assert errors(registry, "buffered") == 0 and errors(registry, "recorder") == 0


async def test_shutdown_flushes_without_waiting_for_max_wait(autojump_clock: Any) -> None:
    delegate = Recorder()
    backend = BufferedBackend(delegate, BatchConfig(max_batch_size=4, max_batch_wait=30.0))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        start = trio.current_time()
        backend.process_events(events(*range(10)))
        await backend.shutdown()
        assert trio.current_time() - start < 1
    assert sorted(len(ids) for _, ids in delegate.batches) == [2, 4, 4]


async def test_shutdown_waits_for_sends_in_flight(autojump_clock: Any) -> None:
    delegate = Recorder(pause=5)
    backend = BufferedBackend(delegate, BatchConfig(max_batch_size=2, throttle_enable=False))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        backend.process_events(events(1, 2, 3, 4))
        await trio.sleep(1)
        await backend.shutdown()
        assert len(delegate.batches) == 2


async def test_shutdown_is_bounded_and_counts_what_it_could_not_send(autojump_clock: Any) -> None:
    registry = CollectorRegistry()
    delegate = Recorder(hold=True)
    backend = BufferedBackend(delegate, BatchConfig(max_batch_size=2, throttle_enable=True,
                                                    throttle_qps=0.001, throttle_burst=1),
                              registry, shutdown_timeout=7)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        backend.process_events(events(*range(6)))
        await trio.sleep(1)
        start = trio.current_time()
        await backend.shutdown()
        assert trio.current_time() - start == pytest.approx(7)
    # the first batch hung in the delegate, the second waited for the throttle, two never left
    assert delegate.started == [["0", "1"]]
    assert errors(registry, "recorder") == 2
    assert errors(registry, "buffered") == 4
    assert backend.process_events(events("late")) is True
    assert errors(registry, "buffered") == 5


async def test_a_shutdown_cut_short_by_the_kernel_counts_what_it_lost(autojump_clock: Any) -> None:
    registry = CollectorRegistry()
    delegate = Recorder(hold=True)
    backend = BufferedBackend(delegate, BatchConfig(max_batch_size=2, throttle_enable=False), registry)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        backend.process_events(events(1, 2, 3))
        await trio.sleep(1)
        with trio.move_on_after(5):  # the kernel's bound for every backend, shorter here
            await backend.shutdown()
    assert errors(registry, "recorder") == 3 and delegate.batches == []


async def test_shutdown_without_run_flushes(autojump_clock: Any) -> None:
    delegate = Recorder()
    backend = BufferedBackend(delegate, BatchConfig(max_batch_size=2))
    backend.process_events(events(1, 2, 3))
    await backend.shutdown()
    assert sorted(len(ids) for _, ids in delegate.batches) == [1, 2]
    assert delegate.closed


async def test_a_failing_delegate_is_counted_under_its_name_and_batching_goes_on(autojump_clock: Any) -> None:
    registry = CollectorRegistry()
    delegate = Recorder(name="webhook", fail=True)
    backend = BufferedBackend(delegate, BatchConfig(max_batch_size=2, throttle_enable=False), registry)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        backend.process_events(events(1, 2, 3))
        await trio.sleep(1)
        delegate.fail = False
        backend.process_events(events(4, 5))
        await backend.shutdown()
    assert errors(registry, "webhook") == 2
    assert sorted(ids for _, ids in delegate.batches) == [["3", "4"], ["5"]]


async def test_a_synchronous_delegate_sends_one_batch_at_a_time(autojump_clock: Any) -> None:
    delegate = Recorder(pause=1)
    backend = BufferedBackend(delegate, BatchConfig(max_batch_size=1, throttle_enable=False,
                                                    async_delegate=False))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        start = trio.current_time()
        backend.process_events(events(1, 2, 3))
        await backend.shutdown()
    assert [at - start for at, _ in delegate.batches] == [1, 2, 3]


async def test_blocking_modes_send_each_call_on_its_own_at_once(autojump_clock: Any) -> None:
    delegate = Recorder()
    backend = wrap(delegate, BLOCKING, BatchConfig(max_batch_size=400, max_batch_wait=30))
    assert isinstance(backend, UnbatchedBackend)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.run)
        start = trio.current_time()
        backend.process_events(events(1, 2))
        backend.process_events(events(3))
        await trio.sleep(0.5)
        assert sorted(delegate.batches) == [(start, ["1", "2"]), (start, ["3"])]
        await backend.shutdown()


async def test_deliver_waits_and_only_blocking_strict_reports_a_failure(autojump_clock: Any) -> None:
    registry = CollectorRegistry()
    for mode, answer in ((BLOCKING, True), (BLOCKING_STRICT, False)):
        delegate = Recorder(name=f"hook-{mode}", pause=2, fail=True)
        backend = wrap(delegate, mode, registry=registry)
        start = trio.current_time()
        assert await backend.deliver(events(1)) is answer
        assert trio.current_time() - start == 2
        assert errors(registry, f"hook-{mode}") == 1
        delegate.fail = False
        assert await backend.deliver(events(2)) is True


async def test_wrap_picks_the_buffered_backend_for_batch_mode() -> None:
    assert isinstance(wrap(Recorder(), BATCH), BufferedBackend)
    assert repr(wrap(Recorder(name="webhook"), BATCH)) == "buffered<webhook>"
    with pytest.raises(ValueError):
        wrap(Recorder(), "sometimes")


async def test_both_modes_are_the_kernels_audit_backends() -> None:
    assert isinstance(wrap(Recorder(), BATCH), Backend)
    assert isinstance(wrap(Recorder(), BLOCKING), Backend)
