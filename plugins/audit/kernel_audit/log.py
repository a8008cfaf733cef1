"""The log backend (k8s.io/apiserver/plugin/pkg/audit/log): one line per event, to a file
rotated as lumberjack does, or to standard output (``--audit-log-path=-``).

Events are encoded on the trio loop (msgspec, microseconds) and the lines handed through a
bounded buffer to one writer thread, so ``process_events`` never waits for the disk. kube's
modes map onto that buffer:

- ``blocking`` (kube's default for the log): events are written in order within a few
  milliseconds (the thread lingers ``LINGER`` after waking, to write several at once); a write
  error is logged and the request goes on (kube's ignoreErrors). kube's request goroutine would wait for the write; the trio loop cannot, so when the disk falls
  ``BLOCKING_QUEUE`` lines behind, further events are dropped and counted instead;
- ``blocking-strict``: as blocking, but once a write failed (or the buffer is full) events are
  refused, so new requests fail with a 500 as kube's would, until a write succeeds again;
- ``batch``: up to ``--audit-log-batch-buffer-size`` events wait; the thread writes up to
  ``--audit-log-batch-max-size`` of them per write, waiting at most
  ``--audit-log-batch-max-wait`` to fill a batch; a full buffer drops events.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import msgspec
import trio

from kernel_audit.batch import BATCH, BLOCKING, BLOCKING_STRICT

log = logging.getLogger("kernel.audit.log")

PLUGIN_NAME = "log"
FORMAT_LEGACY, FORMAT_JSON = "legacy", "json"
FORMATS = (FORMAT_LEGACY, FORMAT_JSON)
BLOCKING_QUEUE = 10000  # lines the writer may fall behind in blocking modes
LINGER = 0.002  # seconds the writer waits for more lines after a wake-up (blocking modes)


class Writer(Protocol):
    max_size: int  # the largest write it takes (0: any)

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class Stdout:
    """``-``: standard output, flushed per batch."""

    max_size = 0

    def write(self, data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    def close(self) -> None:
        sys.stdout.buffer.flush()


class LogBackend:
    name = PLUGIN_NAME

    def __init__(self, open_writer: Callable[[], Writer], *, format: str = FORMAT_JSON,
                 mode: str = BLOCKING, buffer_size: int = BLOCKING_QUEUE,
                 max_batch_size: int = 1, max_batch_wait: float = 0.0,
                 lost: Callable[[str, int], None] = lambda plugin, count: None) -> None:
        """``lost(plugin, count)`` counts events not delivered (apiserver_audit_error_total):
        ``buffered`` for those dropped on a full buffer, ``log`` for failed writes, as kube's."""
        self._open_writer = open_writer
        self._lost = lost
        self._encode: Callable[[Mapping[str, Any]], bytes] = (
            _json_line if format == FORMAT_JSON else _legacy_line)
        self.mode = mode
        self._batch = mode == BATCH
        # A deque (appends and pops are atomic) and an event set only when the writer may be
        # asleep: most events cost the loop one append and one flag read, no lock.
        self._lines: deque[bytes] = deque()
        self._limit = buffer_size if self._batch else BLOCKING_QUEUE
        self._wake = threading.Event()
        self._stopping = False
        self._max_batch = max(max_batch_size, 1) if self._batch else 1024
        self._max_wait = max_batch_wait if self._batch else LINGER
        self._failed = False  # the last write failed (blocking-strict refuses events then)
        self._stopped = threading.Event()
        self._started = False
        self.dropped = 0
        self.errors = 0

    # -- the Backend protocol -------------------------------------------------------------------

    def process_events(self, events: Sequence[Mapping[str, Any]]) -> bool:
        strict = self.mode == BLOCKING_STRICT
        if strict and self._failed:
            return False
        lines = self._lines
        for event in events:
            if len(lines) >= self._limit:
                self.dropped += 1
                self._lost("buffered", 1)
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.error("audit log backend: buffer full, %d event(s) dropped so far", self.dropped)
                if strict:
                    return False
                continue
            lines.append(self._encode(event))
        if not self._wake.is_set():
            self._wake.set()
        return True

    async def run(self) -> None:
        """The writer thread's lifetime: until :meth:`shutdown` has flushed the lines."""
        self._started = True
        await trio.to_thread.run_sync(self._write_loop, abandon_on_cancel=True)

    async def shutdown(self) -> None:
        self._stopping = True  # the writer writes every queued line, then stops
        self._wake.set()
        if not self._started:  # a writer started later sees the flag and stops at once
            return
        await trio.to_thread.run_sync(self._stopped.wait, abandon_on_cancel=True)

    # -- the writer thread ------------------------------------------------------------------------

    def _write_loop(self) -> None:
        try:
            writer = self._open_writer()
        except OSError as error:
            log.error("audit log backend: cannot open the log: %s", error)
            self._failed = True
            self._stopped.set()
            return
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                self._gather()
                while self._lines:
                    self._write_batch(writer)
                if self._stopping:
                    break
        finally:
            writer.close()
            self._stopped.set()

    def _gather(self) -> None:
        """Let more lines arrive before writing: one wake-up and one write for many events costs
        the loop's thread far fewer GIL hand-offs than one per event (batch mode: up to
        --audit-log-batch-max-wait, or until a batch is full)."""
        deadline = time.monotonic() + self._max_wait
        while not self._stopping and len(self._lines) < self._max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(remaining, LINGER))

    def _write_batch(self, writer: Writer) -> None:
        lines, pop = [], self._lines.popleft
        while len(lines) < self._max_batch:
            try:
                lines.append(pop())
            except IndexError:
                break
        for chunk in _chunks(lines, writer.max_size):
            try:
                writer.write(b"".join(chunk))
                self._failed = False
            except OSError as error:
                self.errors += 1
                self._lost(PLUGIN_NAME, len(chunk))
                self._failed = True
                log.error("audit log backend: error writing %d event(s): %s", len(chunk), error)


def _chunks(lines: list[bytes], limit: int) -> list[list[bytes]]:
    """Lines grouped into writes of at most ``limit`` bytes (0: one write), so a rotated file
    takes every event that fits: lumberjack refuses a write larger than the whole file, and a
    batch of lines can be, where each of its events alone is not."""
    if not limit:
        return [lines]
    chunks: list[list[bytes]] = [[]]
    size = 0
    for line in lines:
        if chunks[-1] and size + len(line) > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line)
    return chunks


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
