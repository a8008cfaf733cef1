"""Non-resource HTTP routes contributed by plugins (``kernel_routes``), mounted under a prefix.

A plugin returns ``{prefix: app}`` (or ``[(prefix, app), ...]``) where ``app`` is a Quart-Trio
app, a Quart blueprint (wrapped here in a Quart-Trio app of its own) or any ASGI callable. The
kernel's dispatcher forwards a request whose path is the prefix or under it to the app, behind
every filter (authentication, authorization as a non-resource URL, the request log, metrics),
with ``root_path`` set to the prefix: the app's routes are relative to it (``/flags/v`` under
``/debug``). Quart is imported here only for a blueprint, so a server whose plugins contribute
no routes never imports it (Quart-Trio costs ~0.4–0.5 ms per request, only on these routes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from kernel.plugins import PluginError

if TYPE_CHECKING:
    from kernel.plugins import PluginManager
    from kernel.context import ServerContext
    from kernel.endpoints.request import Request

ASGIApp = Callable[..., Any]

# Paths the kernel serves itself; a plugin's prefix may be none of them, nor under or above one.
RESERVED = ("/api", "/apis", "/healthz", "/livez", "/readyz", "/version", "/metrics", "/openapi")


class RouteError(PluginError):
    """A plugin's route prefix is malformed or collides with the kernel's or another plugin's."""


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _as_asgi(app: Any) -> ASGIApp:
    """A Quart blueprint gets an app of its own; anything else must already be ASGI."""
    if callable(app):
        return app
    from quart import Blueprint  # only a plugin that hands over a blueprint pays for the import

    if isinstance(app, Blueprint):
        from quart_trio import QuartTrio

        wrapper = QuartTrio(app.name)
        wrapper.register_blueprint(app)
        return wrapper
    raise TypeError(f"not an ASGI app or a Quart blueprint: {app!r}")


def _pairs(result: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    if result is None:
        return []
    return list(result.items()) if isinstance(result, Mapping) else list(result)


def collect_routes(plugins: PluginManager, context: ServerContext) -> list[tuple[str, ASGIApp]]:
    """Every selected plugin's routes, prefixes checked: RouteError names the plugin and the clash."""
    owners: dict[str, str] = {}
    mounted: list[tuple[str, ASGIApp]] = []
    for plugin, result in plugins.call_each("kernel_routes", context=context):
        for prefix, app in _pairs(result):
            if not prefix.startswith("/") or prefix == "/" or prefix.endswith("/") or "//" in prefix:
                raise RouteError(f"kernel_routes: plugin {plugin}: prefix {prefix!r} must be an "
                                 f"absolute path like /debug, without a trailing slash")
            for reserved in RESERVED:
                if _overlaps(prefix, reserved):
                    raise RouteError(f"kernel_routes: plugin {plugin}: prefix {prefix} collides with "
                                     f"the kernel's {reserved}")
            for other, owner in owners.items():
                if _overlaps(prefix, other):
                    raise RouteError(f"kernel_routes: plugin {plugin}: prefix {prefix} collides with "
                                     f"{other} of plugin {owner}")
            owners[prefix] = plugin
            mounted.append((prefix, _as_asgi(app)))
    return mounted


def route_for(routes: list[tuple[str, ASGIApp]], path: str) -> tuple[str, ASGIApp] | None:
    """The mounted app serving ``path`` (a handful of prefixes: a scan beats anything cleverer)."""
    for prefix, app in routes:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix, app
    return None


async def forward(request: Request, prefix: str, app: ASGIApp) -> None:
    """Hand the request to ``app`` as an ASGI call; responses go through ``request.send`` so the
    filters see the status (request log, metrics) and add their headers."""
    scope = {**request.scope, "root_path": request.scope.get("root_path", "") + prefix}
    await app(scope, request.receive, request.send)
    # A path the app does not serve is the kernel's unrouted 404: kept out of the request metrics
    # (one label set per made-up path would grow without bound).
    if request.status == 404:
        request.unrouted = True
