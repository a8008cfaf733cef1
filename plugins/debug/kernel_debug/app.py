"""The Quart-Trio app mounted at /debug: ``/flags/v`` and ``/tasks`` (paths relative to it)."""

from __future__ import annotations

import logging
import re

from quart import Response, request
from quart_trio import QuartTrio

from kernel import logs
from kernel_debug.tasks import task_tree

# klog's Level.Set parses with Go's strconv.ParseInt: digits with an optional sign, no spaces.
_INT = re.compile(r"[+-]?[0-9]+")


def _text(body: str, status: int = 200) -> Response:
    # kube's writePlainText: text/plain, nosniff, the message and a newline.
    return Response(body + "\n", status, {"Content-Type": "text/plain",
                                           "X-Content-Type-Options": "nosniff"})


def _parse_verbosity(value: str) -> int:
    if not _INT.fullmatch(value):
        raise ValueError(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    verbosity = int(value)
    if not 0 <= verbosity <= 2**31 - 1:
        raise ValueError("verbosity must be between 0 and 2147483647")
    return verbosity


def create_app(log: logging.Logger) -> QuartTrio:
    app = QuartTrio("kernel_debug")

    @app.route("/flags/v", methods=["GET", "PUT"])
    async def verbosity() -> Response:
        """PUT sets -v as kube's does (body: the level); GET shows it (kube answers 406)."""
        if request.method != "PUT":
            return _text(str(logs.verbosity()))
        value = (await request.get_data()).decode("utf-8", "replace")
        try:
            level = _parse_verbosity(value)
        except ValueError as error:
            return _text(f"failed set klog.logging.verbosity {value}: {error}", 400)
        logs.set_verbosity(level)
        log.info("log verbosity set to %d", level)
        return _text(f"successfully set klog.logging.verbosity to {value}")

    @app.route("/tasks", methods=["GET"])
    async def tasks() -> Response:
        return _text(task_tree().rstrip("\n"))

    return app
