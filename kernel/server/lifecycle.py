"""Lifecycle signals and the in-flight request wait group (k8s.io/apiserver lifecycle_signals.go).

The events fire in this order during a graceful shutdown:
ShutdownInitiated → AfterShutdownDelayDuration → NotAcceptingNewRequest →
HTTPServerStoppedListening / InFlightRequestsDrained → (pre-shutdown hooks) → exit.
HasBeenReady fires the first time /readyz passes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import trio

log = logging.getLogger("kernel.server.lifecycle")


class NamedEvent:
    """A ``trio.Event`` with a name, logged when it fires."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._event = trio.Event()

    def set(self) -> None:
        if not self._event.is_set():
            log.info("lifecycle signal %s", self.name)
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


class LifecycleSignals:
    def __init__(self) -> None:
        self.shutdown_initiated = NamedEvent("ShutdownInitiated")
        self.after_shutdown_delay_duration = NamedEvent("AfterShutdownDelayDuration")
        self.not_accepting_new_requests = NamedEvent("NotAcceptingNewRequest")
        self.in_flight_requests_drained = NamedEvent("InFlightRequestsDrained")
        self.http_server_stopped_listening = NamedEvent("HTTPServerStoppedListening")
        self.has_been_ready = NamedEvent("HasBeenReady")


class WaitGroup:
    """Counts requests in flight; :meth:`wait` returns once none are left."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = trio.Event()
        self._idle.set()

    def add(self) -> None:
        if self.count == 0:
            self._idle = trio.Event()
        self.count += 1

    def done(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    @contextmanager
    def track(self) -> Iterator[None]:
        self.add()
        try:
            yield
        finally:
            self.done()

    async def wait(self) -> None:
        await self._idle.wait()
