"""kube's buffered audit backend (plugin/pkg/audit/buffered) and its batch flags, generic over a
delegate that sends a batch (``async send(events)``, raising when it could not).

``process_events`` only puts events into a bounded buffer (a trio memory channel, as kube's Go
channel) and never waits: a full buffer drops the events, counted in
``apiserver_audit_error_total{plugin="buffered"}`` and logged "audit buffer queue blocked", and
still answers True, as kube does. ``run()`` collects batches of ``max_batch_size`` events, or
what came within ``max_batch_wait``, waits for the throttle (a token bucket: ``throttle_qps``
batches a second, bursts of ``throttle_burst``) and hands each batch to the delegate in a task
of its own, so a slow delegate holds neither the batching nor the requests. ``shutdown()`` stops
taking events, sends what is buffered and waits for the sends, up to ``shutdown_timeout``; what
is still unsent then is counted as errors.

The modes of ``--audit-<plugin>-mode`` (:func:`wrap`): ``batch`` is this backend; ``blocking``
and ``blocking-strict`` make kube's request wait for the delegate, which the kernel's backend
protocol (``process_events`` never blocks) does not allow: here they send each call's events as
one batch of their own, at once, unthrottled (:class:`UnbatchedBackend`), and offer
``await deliver(events)`` to an audit stage that wants to wait for (blocking) or fail on
(blocking-strict) the result.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import trio

from kernel.audit.metrics import AuditMetrics
from kernel.server.options import boolean, non_negative_duration

if TYPE_CHECKING:  # prometheus_client is imported when a backend is built (see kernel.server.metricvec)
    from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger("kernel.audit")

PLUGIN_NAME = "buffered"  # kube's label for the buffer's own errors
BATCH, BLOCKING, BLOCKING_STRICT = "batch", "blocking", "blocking-strict"
MODES = (BATCH, BLOCKING, BLOCKING_STRICT)
SHUTDOWN_TIMEOUT = 50.0  # within the kernel's 60 s for all backends, so this one ends cleanly

Event = Mapping[str, Any]


class Delegate(Protocol):
    """What a batch goes to (the webhook, or a log writer): ``send`` raises when it failed."""

    name: str

    async def send(self, events: Sequence[Event]) -> None: ...

    async def aclose(self) -> None: ...


class BatchConfig(msgspec.Struct, frozen=True):
    """pluginbuffered.BatchConfig, with kube's webhook defaults."""

    buffer_size: int = 10000
    max_batch_size: int = 400
    max_batch_wait: float = 30.0
    throttle_enable: bool = True
    throttle_qps: float = 10.0
    throttle_burst: int = 15
    async_delegate: bool = True  # each batch in a task of its own (kube: true for the webhook)


# --- errors: kube's audit.HandlePluginError ------------------------------------------------------

def error_counter(registry: CollectorRegistry | None) -> Counter:
    """``apiserver_audit_error_total{plugin}``: the kernel's on ``registry``; None: unregistered."""
    if registry is None:
        return _new_error_counter(None)
    return AuditMetrics.of(registry).errors


def _new_error_counter(registry: CollectorRegistry | None) -> Counter:
    from prometheus_client import Counter
    return Counter("apiserver_audit_error", "Counter of audit events that failed to be audited "
                   "properly. Plugin identifies the plugin affected by the error.", ("plugin",),
                   registry=registry)


def handle_plugin_error(errors: Counter, plugin: str, error: object, events: Sequence[Event]) -> None:
    """Count the events a plugin failed to record, and log them (audit IDs only: an event may hold
    a request body)."""
    if not events:
        return
    errors.labels(plugin).inc(len(events))
    ids = ", ".join(str(event.get("auditID", "")) for event in events[:20])
    more = f" and {len(events) - 20} more" if len(events) > 20 else ""
    log.error("Error in audit plugin '%s' affecting %d audit events: %s (audit IDs: %s%s)",
              plugin, len(events), error, ids, more)


# --- throttle: client-go's token bucket rate limiter ---------------------------------------------

class TokenBucket:
    """``qps`` tokens a second, at most ``burst`` saved up; ``acquire`` waits for one (flowcontrol's
    NewTokenBucketRateLimiter + Accept). Reads trio's clock, so tests can use a mock clock."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps, self.burst = qps, burst
        self._tokens = float(burst)
        self._at: float | None = None

    async def acquire(self) -> None:
        now = trio.current_time()
        if self._at is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.qps)
        self._at = now
        self._tokens -= 1
        if self._tokens < 0:  # reserved: wait until the debt is paid
            await trio.sleep(-self._tokens / self.qps)


# --- the backends ---------------------------------------------------------------------------------

class _Background:
    """What both modes share: a bounded channel fed by ``process_events``, a ``run`` that drains it
    into delegate sends, a ``shutdown`` that flushes within a bound."""

    def __init__(self, delegate: Delegate, buffer_size: int, registry: CollectorRegistry | None,
                 shutdown_timeout: float) -> None:
        self.delegate = delegate
        self.name = delegate.name
        self.shutdown_timeout = shutdown_timeout
        self.errors = error_counter(registry)
        self._send, self._receive = trio.open_memory_channel[Any](buffer_size)
        self._scope = trio.CancelScope()
        self._started = False
        self._finished = trio.Event()

    def _put(self, item: Any, events: Sequence[Event]) -> None:
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            handle_plugin_error(self.errors, PLUGIN_NAME, "audit buffer queue blocked", events)
        except trio.ClosedResourceError:
            handle_plugin_error(self.errors, PLUGIN_NAME, "audit backend shut down", events)

    async def _deliver(self, events: Sequence[Event]) -> bool:
        """Send one batch; a failure is counted under the delegate's name."""
        try:
            await self.delegate.send(events)
        except trio.Cancelled:
            handle_plugin_error(self.errors, self.delegate.name, "audit backend shut down", events)
            raise
        except Exception as error:  # a delegate's failure must not end the backend
            handle_plugin_error(self.errors, self.delegate.name, error, events)
            return False
        return True

    async def _drain(self, senders: trio.Nursery) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        """Send what comes in until ``shutdown()`` (then what is left, then return). A second
        call (shutdown flushed before the server's call got to run) waits for the first."""
        if self._started:
            await self._finished.wait()
            return
        self._started = True
        try:
            with self._scope:
                async with trio.open_nursery() as senders:
                    await self._drain(senders)
        finally:  # ended by shutdown() or cancelled: nothing is taken or sent from now on
            self._send.close()
            self._drop_buffered("audit backend shut down")
            self._finished.set()

    async def shutdown(self) -> None:
        """Stop taking events; send the buffered ones and wait for the sends, at most
        ``shutdown_timeout`` seconds (then cancel them: what is unsent is counted as errors)."""
        self._send.close()
        try:
            with trio.move_on_after(self.shutdown_timeout):
                if self._started:
                    await self._finished.wait()
                else:  # never started (the server did not get to serve): flush here
                    await self.run()
        finally:  # also when the kernel's own bound cancels us: run() counts what is left
            self._scope.cancel()
        await self._finished.wait()
        await self.delegate.aclose()

    def _drop_buffered(self, reason: str) -> None:
        left: list[Event] = []
        while True:
            try:
                item = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            left.extend(item if isinstance(item, list) else [item])
        handle_plugin_error(self.errors, PLUGIN_NAME, reason, left)


class BufferedBackend(_Background):
    """kube's buffered backend: events batched by size and time, sent throttled, in the background."""

    def __init__(self, delegate: Delegate, config: BatchConfig = BatchConfig(),
                 registry: CollectorRegistry | None = None,
                 shutdown_timeout: float = SHUTDOWN_TIMEOUT) -> None:
        super().__init__(delegate, config.buffer_size, registry, shutdown_timeout)
        self.config = config
        self.throttle = TokenBucket(config.throttle_qps, config.throttle_burst) \
            if config.throttle_enable else None

    def __repr__(self) -> str:
        return f"{PLUGIN_NAME}<{self.delegate.name}>"

    def process_events(self, events: Sequence[Event]) -> bool:
        """Buffer ``events`` (the stage's own snapshots: kept as they are); never waits. True
        even when the buffer is full and they are dropped, as kube."""
        for i, event in enumerate(events):
            try:
                self._send.send_nowait(event)
            except (trio.WouldBlock, trio.ClosedResourceError) as error:
                reason = "audit buffer queue blocked" if isinstance(error, trio.WouldBlock) \
                    else "audit backend shut down"
                handle_plugin_error(self.errors, PLUGIN_NAME, reason, events[i:])
                break
        return True

    async def _collect(self, deadline: float, greedy: bool) -> tuple[list[Event], bool]:
        """Up to max_batch_size events, or those that came by ``deadline`` (``greedy``: those
        there once one came); and whether the buffer is closed and empty."""
        batch: list[Event] = []
        with trio.move_on_at(deadline):
            while len(batch) < self.config.max_batch_size:
                try:
                    batch.append(self._receive.receive_nowait())
                    continue
                except trio.WouldBlock:
                    if greedy and batch:
                        break
                except trio.EndOfChannel:
                    return batch, True
                try:
                    batch.append(await self._receive.receive())
                except trio.EndOfChannel:
                    return batch, True
        return batch, False

    async def _drain(self, senders: trio.Nursery) -> None:
        # kube: no timer without batching; a wait of 0 sends what is there (not a busy loop)
        timed = self.config.max_batch_size > 1 and self.config.max_batch_wait > 0
        greedy = self.config.max_batch_size > 1 and not timed
        while True:
            deadline = trio.current_time() + self.config.max_batch_wait if timed else math.inf
            batch, closed = await self._collect(deadline, greedy)
            if batch:
                if self.throttle is not None:
                    try:
                        await self.throttle.acquire()
                    except trio.Cancelled:
                        handle_plugin_error(self.errors, PLUGIN_NAME, "audit backend shut down", batch)
                        raise
                if self.config.async_delegate:
                    senders.start_soon(self._deliver, batch)
                else:
                    await self._deliver(batch)
            if closed:
                return


class UnbatchedBackend(_Background):
    """The blocking modes under a protocol that never blocks: each ``process_events`` call is one
    send of its own, started at once and unthrottled; ``deliver`` sends and says how it went."""

    def __init__(self, delegate: Delegate, mode: str = BLOCKING, buffer_size: int = 10000,
                 registry: CollectorRegistry | None = None,
                 shutdown_timeout: float = SHUTDOWN_TIMEOUT) -> None:
        super().__init__(delegate, buffer_size, registry, shutdown_timeout)
        self.mode = mode

    def __repr__(self) -> str:
        return f"{self.mode}<{self.delegate.name}>"

    def process_events(self, events: Sequence[Event]) -> bool:
        if events:
            self._put(list(events), events)
        return True

    async def deliver(self, events: Sequence[Event]) -> bool:
        """Send ``events`` now and wait: kube's blocking answer (always True: errors are counted
        and logged) or blocking-strict's (False when the delegate failed)."""
        delivered = await self._deliver(list(events))
        return delivered or self.mode != BLOCKING_STRICT

    async def _drain(self, senders: trio.Nursery) -> None:
        async for events in self._receive:
            senders.start_soon(self._deliver, events)


def wrap(delegate: Delegate, mode: str, config: BatchConfig = BatchConfig(),
         registry: CollectorRegistry | None = None,
         shutdown_timeout: float = SHUTDOWN_TIMEOUT) -> BufferedBackend | UnbatchedBackend:
    """The backend ``--audit-<plugin>-mode`` asks for around ``delegate``."""
    if mode == BATCH:
        return BufferedBackend(delegate, config, registry, shutdown_timeout)
    if mode in (BLOCKING, BLOCKING_STRICT):
        return UnbatchedBackend(delegate, mode, config.buffer_size, registry, shutdown_timeout)
    raise ValueError(f"unknown audit backend mode {mode!r}")


# --- flags: pkg/server/options/audit.go's AuditBatchOptions ---------------------------------------

def add_batch_options(options: Any, plugin: str, defaults: BatchConfig = BatchConfig(),
                      mode: str = BATCH) -> None:
    """``--audit-<plugin>-mode`` and ``--audit-<plugin>-batch-*`` with kube's texts."""
    add = options.add
    add(f"audit-{plugin}-mode", default=mode,
        help="Strategy for sending audit events. Blocking indicates sending events should block "
             "server responses. Batch causes the backend to buffer and write events "
             f"asynchronously. Known modes are {','.join(MODES)}.")
    add(f"audit-{plugin}-batch-buffer-size", default=defaults.buffer_size, type=int,
        help="The size of the buffer to store events before batching and writing. "
             "Only used in batch mode.")
    add(f"audit-{plugin}-batch-max-size", default=defaults.max_batch_size, type=int,
        help="The maximum size of a batch. Only used in batch mode.")
    add(f"audit-{plugin}-batch-max-wait", default=defaults.max_batch_wait, type=non_negative_duration,
        help="The amount of time to wait before force writing the batch that hadn't reached the "
             "max size. Only used in batch mode.")
    add(f"audit-{plugin}-batch-throttle-enable", default=defaults.throttle_enable, type=boolean,
        help="Whether batching throttling is enabled. Only used in batch mode.")
    add(f"audit-{plugin}-batch-throttle-qps", default=defaults.throttle_qps, type=float,
        help="Maximum average number of batches per second. Only used in batch mode.")
    add(f"audit-{plugin}-batch-throttle-burst", default=defaults.throttle_burst, type=int,
        help="Maximum number of requests sent at the same moment if ThrottleQPS was not utilized "
             "before. Only used in batch mode.")


def _value(options: Any, plugin: str, name: str) -> Any:
    return getattr(options, f"audit_{plugin}_{name}".replace("-", "_"))


def batch_config(options: Any, plugin: str, async_delegate: bool = True) -> BatchConfig:
    return BatchConfig(
        buffer_size=_value(options, plugin, "batch_buffer_size"),
        max_batch_size=_value(options, plugin, "batch_max_size"),
        max_batch_wait=_value(options, plugin, "batch_max_wait"),
        throttle_enable=_value(options, plugin, "batch_throttle_enable"),
        throttle_qps=_value(options, plugin, "batch_throttle_qps"),
        throttle_burst=_value(options, plugin, "batch_throttle_burst"),
        async_delegate=async_delegate)


def _go_number(value: float) -> str:
    """A number as Go's %v prints it (10, not 10.0)."""
    return f"{value:g}"


def batch_option_errors(options: Any, plugin: str) -> list[str]:
    """kube's validateBackendBatchOptions: the mode, then (batch mode only) the first bad value."""
    mode = _value(options, plugin, "mode")
    if mode not in MODES:
        return [f'invalid audit {plugin} mode {mode}, allowed modes are "{",".join(MODES)}"']
    if mode != BATCH:
        return []
    config = batch_config(options, plugin)
    if config.buffer_size <= 0:
        return [f"invalid audit batch {plugin} buffer size {config.buffer_size}, must be a positive number"]
    if config.max_batch_size <= 0:
        return [f"invalid audit batch {plugin} max batch size {config.max_batch_size}, "
                "must be a positive number"]
    if config.throttle_enable:
        if config.throttle_qps <= 0:
            return [f"invalid audit batch {plugin} throttle QPS {_go_number(config.throttle_qps)}, "
                    "must be a positive number"]
        if config.throttle_burst <= 0:
            return [f"invalid audit batch {plugin} throttle burst {config.throttle_burst}, "
                    "must be a positive number"]
    return []
