"""The ``debug`` plugin: kube's /debug/flags/v and a dump of the trio task tree, under /debug.

Its routes are a Quart-Trio app given to the kernel through ``kernel_routes``; the app (and with it
Quart) is imported only when the hook is called, i.e. when this plugin is selected.
"""

from __future__ import annotations

from typing import Any

from kernel import hookimpl


@hookimpl
def kernel_routes(context: Any) -> dict[str, Any]:
    from kernel_debug.app import create_app

    return {"/debug": create_app(context.logger("kernel.debug"))}
