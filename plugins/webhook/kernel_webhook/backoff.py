"""Retrying a webhook call with kube's exponential backoff (k8s.io/apiserver/pkg/util/webhook
``WithExponentialBackoff`` over apimachinery's ``wait.Backoff``).

``steps`` is the number of attempts; between two attempts the call sleeps ``duration`` (grown by
``factor`` after each sleep) plus up to ``jitter`` times that at random. Only an error that
``should_retry`` accepts is retried; any other, and the last attempt's, is raised.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
import trio

log = logging.getLogger("kernel.webhook")
T = TypeVar("T")


class Backoff(msgspec.Struct, frozen=True):
    """wait.Backoff; the default is kube's DefaultRetryBackoff for webhooks (0.5 s, x1.5, 20%
    jitter, 5 attempts)."""

    duration: float = 0.5
    factor: float = 1.5
    jitter: float = 0.2
    steps: int = 5

    def delays(self) -> list[float]:
        """The sleeps between attempts, jittered (``steps - 1`` of them)."""
        delays, delay = [], self.duration
        for _ in range(max(self.steps, 1) - 1):
            delays.append(delay * (1 + random.random() * self.jitter) if self.jitter > 0 else delay)
            delay *= self.factor
        return delays


DEFAULT_BACKOFF = Backoff()


async def with_backoff(call: Callable[[], Awaitable[T]], backoff: Backoff,
                       should_retry: Callable[[Exception], bool], what: str = "webhook") -> T:
    """``await call()``, retried on the errors ``should_retry`` accepts, at most ``backoff.steps``
    times in all; the last error is raised."""
    delays = backoff.delays()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except Exception as error:
            if attempt > len(delays) or not should_retry(error):
                raise
            log.info("%s: attempt %d failed, retrying: %s", what, attempt, error)
            await trio.sleep(delays[attempt - 1])
