"""The ``debug`` plugin: kube's /debug/flags/v and a dump of the trio task tree, under /debug.

Its routes are a Quart-Trio app given to the kernel through ``kernel_routes``. The app, and with
it Quart (about 0.1 s of imports and several MB at startup), is built on the first request under
/debug: a server that is never debugged never imports it.
"""

from __future__ import annotations

import logging
from typing import Any

from kernel import hookimpl


class _BuiltOnFirstRequest:
    """An ASGI app that builds the Quart app when it is first called, then forwards to it."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._app is None:
            from kernel_debug.app import create_app

            self._app = create_app(self._log)
        await self._app(scope, receive, send)


@hookimpl
def kernel_routes(context: Any) -> dict[str, Any]:
    return {"/debug": _BuiltOnFirstRequest(context.logger("kernel.debug"))}
