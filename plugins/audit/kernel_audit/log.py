"""The log backend (k8s.io/apiserver/plugin/pkg/audit/log): one line per event, to a file
rotated as lumberjack does, or to standard output (``--audit-log-path=-``).

Events are encoded on the trio loop (msgspec, microseconds) and the lines handed through a
bounded queue to one writer thread, so ``process_events`` never waits for the disk. kube's
modes map onto that queue:

- ``blocking`` (kube's default for the log): each event is written in order as soon as the
  thread gets to it; a write error is logged and the request goes on (kube's ignoreErrors).
  kube's request goroutine would wait for the write; the trio loop cannot, so when the disk falls
  ``BLOCKING_QUEUE`` lines behind, further events are dropped and counted instead;
- ``blocking-strict``: as blocking, but once a write failed (or the queue is full) events are
  refused, so new requests fail with a 500 as kube's would, until a write succeeds again;
- ``batch``: up to ``--audit-log-batch-buffer-size`` events queue; the thread writes up to
  ``--audit-log-batch-max-size`` of them per write, waiting at most
  ``--audit-log-batch-max-wait`` to fill a batch; a full buffer drops events.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import msgspec
import trio

log = logging.getLogger("kernel.audit.log")

MODE_BATCH, MODE_BLOCKING, MODE_BLOCKING_STRICT = "batch", "blocking", "blocking-strict"
MODES = (MODE_BATCH, MODE_BLOCKING, MODE_BLOCKING_STRICT)
FORMAT_LEGACY, FORMAT_JSON = "legacy", "json"
FORMATS = (FORMAT_LEGACY, FORMAT_JSON)
BLOCKING_QUEUE = 10000  # lines the writer may fall behind in blocking modes
_STOP = object()


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class Stdout:
    """``-``: standard output, flushed per batch."""

    def write(self, data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    def close(self) -> None:
        sys.stdout.buffer.flush()


class LogBackend:
    name = "log"

    def __init__(self, open_writer: Callable[[], Writer], *, format: str = FORMAT_JSON,
                 mode: str = MODE_BLOCKING, buffer_size: int = BLOCKING_QUEUE,
                 max_batch_size: int = 1, max_batch_wait: float = 0.0) -> None:
        self._open_writer = open_writer
        self._encode: Callable[[Mapping[str, Any]], bytes] = (
            _json_line if format == FORMAT_JSON else _legacy_line)
        self.mode = mode
        self._batch = mode == MODE_BATCH
        self._queue: queue.Queue[Any] = queue.Queue(buffer_size if self._batch else BLOCKING_QUEUE)
        self._max_batch = max(max_batch_size, 1) if self._batch else 256
        self._max_wait = max_batch_wait if self._batch else 0.0
        self._failed = False  # the last write failed (blocking-strict refuses events then)
        self._stopped = threading.Event()
        self._started = False
        self.dropped = 0
        self.errors = 0

    # -- the Backend protocol -------------------------------------------------------------------

    def process_events(self, events: Sequence[Mapping[str, Any]]) -> bool:
        strict = self.mode == MODE_BLOCKING_STRICT
        if strict and self._failed:
            return False
        put = self._queue.put_nowait
        for event in events:
            try:
                put(self._encode(event))
            except queue.Full:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.error("audit log backend: buffer full, %d event(s) dropped so far", self.dropped)
                if strict:
                    return False
        return True

    async def run(self) -> None:
        """The writer thread's lifetime: until :meth:`shutdown` has flushed the queue."""
        self._started = True
        await trio.to_thread.run_sync(self._write_loop, abandon_on_cancel=True)

    async def shutdown(self) -> None:
        if not self._started:
            return
        # The stop mark goes after every queued line, so they are all written first.
        await trio.to_thread.run_sync(self._queue.put, _STOP, abandon_on_cancel=True)
        await trio.to_thread.run_sync(self._stopped.wait, abandon_on_cancel=True)

    # -- the writer thread ------------------------------------------------------------------------

    def _write_loop(self) -> None:
        try:
            writer = self._open_writer()
        except OSError as error:
            log.error("audit log backend: cannot open the log: %s", error)
            self._failed = True
            self._drain_until_stop()
            return
        try:
            while self._write_batch(writer):
                pass
        finally:
            writer.close()
            self._stopped.set()

    def _write_batch(self, writer: Writer) -> bool:
        """Write the next lines; False once the stop mark came."""
        lines = [self._queue.get()]
        deadline = time.monotonic() + self._max_wait
        while len(lines) < self._max_batch:
            try:
                remaining = deadline - time.monotonic()
                lines.append(self._queue.get(timeout=remaining) if remaining > 0
                             else self._queue.get_nowait())
            except queue.Empty:
                break
            if lines[-1] is _STOP:
                break
        going = lines[-1] is not _STOP
        if not going:
            lines.pop()
        if lines:
            try:
                writer.write(b"".join(lines))
                self._failed = False
            except OSError as error:
                self.errors += 1
                self._failed = True
                log.error("audit log backend: error writing %d event(s): %s", len(lines), error)
        return going

    def _drain_until_stop(self) -> None:
        try:
            while self._queue.get() is not _STOP:
                self.dropped += 1
        finally:
            self._stopped.set()


_encoder = msgspec.json.Encoder()


def _json_line(event: Mapping[str, Any]) -> bytes:
    return _encoder.encode(event) + b"\n"


def _legacy_line(event: Mapping[str, Any]) -> bytes:
    """audit.EventString: the one-line text format."""
    user = event.get("user") or {}
    name, groups = "<none>", "<none>"
    if user.get("username"):
        name = user["username"]
        if user.get("groups"):
            groups = ",".join(_q(g) for g in user["groups"])
    as_user, as_groups = "<self>", "<lookup>"
    impersonated = event.get("impersonatedUser")
    if impersonated is not None:
        as_user = impersonated.get("username", "")
        if impersonated.get("groups") is not None:
            as_groups = ",".join(_q(g) for g in impersonated["groups"])
    namespace = (event.get("objectRef") or {}).get("namespace") or "<none>"
    status = event.get("responseStatus")
    response = str(status.get("code", 0)) if status is not None else "<deferred>"
    ips = event.get("sourceIPs") or ["<unknown>"]
    received = _rfc3339_nano(event.get("requestReceivedTimestamp", ""))
    return (f"{received} AUDIT: id={_q(event.get('auditID', ''))} stage={_q(event.get('stage', ''))} "
            f"ip={_q(ips[0])} method={_q(event.get('verb', ''))} user={_q(name)} "
            f"groups={_q(groups)} as={_q(as_user)} asgroups={_q(as_groups)} "
            f"user-agent={_q(event.get('userAgent', ''))} namespace={_q(namespace)} "
            f"uri={_q(event.get('requestURI', ''))} response=\"{response}\"\n").encode()


def _q(text: str) -> str:
    """Go's %q for the plain strings audit events hold."""
    return msgspec.json.encode(text).decode()


def _rfc3339_nano(micro: str) -> str:
    """Go's RFC3339Nano drops trailing zeros of the fraction (and the dot with them)."""
    head, dot, rest = micro.partition(".")
    if not dot:
        return micro
    fraction = rest.rstrip("Z").rstrip("0")
    return f"{head}.{fraction}Z" if fraction else f"{head}Z"
