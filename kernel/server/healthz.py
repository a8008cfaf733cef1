"""/healthz, /livez and /readyz with named checks, ``?verbose``, ``?exclude=`` and ``/<path>/<check>``.

Output follows kube-apiserver's healthz package: ``[+]name ok`` / ``[-]name failed: reason
withheld`` lines, ``<path> check passed|failed``, 500 on failure, the reason only on the per-check
path, and ``ok`` when all pass and ``verbose`` is absent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import msgspec
import trio

from kernel.endpoints.request import Request

log = logging.getLogger("kernel.server.healthz")

Check = Callable[[], Awaitable[None]]


class CheckFailed(Exception):
    """Raised by a check to fail with a reason."""


class HealthCheck(msgspec.Struct, frozen=True):
    name: str
    check: Check
    livez: bool = True
    readyz: bool = True
    healthz: bool = True


async def ping() -> None:
    return None


class LogCheck:
    """kube's ``log`` check: fails when flushing the logs has not completed for a minute."""

    def __init__(self, stale_after: float = 60.0, interval: float = 10.0) -> None:
        self.stale_after = stale_after
        self.interval = interval
        self.last_flush = time.monotonic()

    async def flush_periodically(self) -> None:
        while True:
            await trio.to_thread.run_sync(self._flush, abandon_on_cancel=True)
            self.last_flush = time.monotonic()
            await trio.sleep(self.interval)

    @staticmethod
    def _flush() -> None:
        for handler in logging.getLogger().handlers:
            handler.flush()

    async def __call__(self) -> None:
        age = time.monotonic() - self.last_flush
        if age > self.stale_after:
            raise CheckFailed(f"logging blocked: last flush {age:.0f}s ago")


async def _run(check: HealthCheck) -> str | None:
    """The failure reason, or None when the check passes."""
    try:
        await check.check()
    except Exception as error:  # any exception is a failed check, never a 500 of the endpoint
        return str(error) or type(error).__name__
    return None


class HealthEndpoint:
    """One of /healthz, /livez, /readyz."""

    def __init__(self, name: str, checks: Sequence[HealthCheck],
                 on_first_healthy: Callable[[], None] | None = None) -> None:
        self.name = name
        self.checks = list(checks)
        self.by_name = {check.name: check for check in self.checks}
        self.on_first_healthy = on_first_healthy

    async def serve_root(self, request: Request) -> None:
        excluded = set(request.query.get("exclude", []))
        lines, failed = [], []
        for check in self.checks:
            if check.name in excluded:
                excluded.discard(check.name)
                lines.append(f"[+]{check.name} excluded: ok\n")
                continue
            reason = await _run(check)
            if reason is None:
                lines.append(f"[+]{check.name} ok\n")
            else:
                lines.append(f"[-]{check.name} failed: reason withheld\n")
                failed.append(f"[-]{check.name} failed: {reason}")
        if excluded:
            names = ",".join(f'"{name}"' for name in sorted(excluded))
            lines.append(f"warn: some health checks cannot be excluded: no matches for {names}\n")
        if failed:
            log.info("%s check failed:\n%s", self.name, "\n".join(failed))
            await request.respond_text("".join(lines) + f"{self.name} check failed\n", 500)
            return
        if self.on_first_healthy is not None:
            self.on_first_healthy()
        if "verbose" in request.query:
            await request.respond_text("".join(lines) + f"{self.name} check passed\n")
        else:
            await request.respond_text("ok")

    async def serve_check(self, request: Request, check: HealthCheck) -> None:
        reason = await _run(check)
        if reason is None:
            await request.respond_text("ok")
        else:
            await request.respond_text(f"internal server error: {reason}\n", 500)

    def routes(self) -> dict[str, Callable[[Request], Awaitable[None]]]:
        routes = {f"/{self.name}": self.serve_root}
        for check in self.checks:
            routes[f"/{self.name}/{check.name}"] = _bind(self.serve_check, check)
        return routes


def _bind(method: Callable[[Request, HealthCheck], Awaitable[None]],
          check: HealthCheck) -> Callable[[Request], Awaitable[None]]:
    async def handler(request: Request) -> None:
        await method(request, check)
    return handler
