"""The authorizer chain: built from its configuration, and rebuilt when --authorization-config
changes (kube's pkg/kubeapiserver/authorizer config.go and reload.go).

Each entry of the chain (:mod:`kernel.server.authorizationconfig`) is built by the factory of its
mode, with the entry in ``context.authorizer_config``. While serving, a changed file that is valid
replaces the chain at once; as in kube only the repeatable entries (Webhook) are built anew, the
other modes keep the authorizer built at startup, so they can be reordered but neither added nor
removed. An invalid file is logged and the chain in force stays.
"""

from __future__ import annotations

import logging
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from kernel.authorization import AuthorizerChain
from kernel.filewatch import watch_file
from kernel.plugins import PluginManager, unconfigured_reason
from kernel.server import authorizationconfig
from kernel.server.authorizationconfig import REPEATABLE_TYPES, AuthorizationConfiguration, ConfigError

log = logging.getLogger("kernel")

RELOAD_HOOK = "authorization-config-reload"
#: Seconds between checks of --authorization-config for changes.
RELOAD_INTERVAL = 1.0


class _Server(Protocol):
    options: Any
    plugins: PluginManager
    context: Any
    components: dict[str, dict[str, Any]]
    unconfigured: list[tuple[str, str | None]]
    authorizer: AuthorizerChain
    authorizer_config: Any


def _make(server: _Server, factory: Any, entry: Any) -> Any:
    server.authorizer_config = entry
    try:
        return factory(server.context)
    finally:
        server.authorizer_config = None


def build_authorizers(plugins: PluginManager, server: _Server) -> list[tuple[str, Any]]:
    """One authorizer per entry of the chain (--authorization-config, else --authorization-mode);
    unconfigured ones are noted in ``server.unconfigured`` for the startup log."""
    provided = plugins.components("kernel_authorizers")
    built: list[tuple[str, Any]] = []
    by_mode: dict[str, Any] = {}
    for entry in authorizationconfig.of_options(server.options).authorizers:
        factory = provided[entry.type][1]
        # An entry of the file is configured by the file; one of a mode by the mode's flags.
        reason = None if entry.webhook else unconfigured_reason(factory, server.options)
        component = None if reason else _make(server, factory, entry)
        if component is None:
            server.unconfigured.append((entry.label, reason))
            continue
        built.append((entry.label, component))
        by_mode.setdefault(entry.type, component)  # context.component() gives a mode's first
    server.components["authorizers"] = by_mode
    return built


def _reload_errors(config: AuthorizationConfiguration, at_start: set[str], known: Any) -> list[str]:
    errors = authorizationconfig.validate(config, known)
    if errors:
        return errors
    types = {entry.type for entry in config.authorizers if entry.type not in REPEATABLE_TYPES}
    errors = [f"authorizer type {t} is not allowed if it was not enabled at initial server startup"
              for t in sorted(types - at_start)]
    if missing := sorted(at_start - types):
        errors.append(f"missing required types: [{' '.join(missing)}]")
    return errors


async def _apply(server: _Server, content: bytes) -> None:
    config = authorizationconfig.decode(content)
    provided = server.plugins.components("kernel_authorizers")
    kept = server.components["authorizers"]
    errors = _reload_errors(config, {t for t in kept if t not in REPEATABLE_TYPES}, provided)
    if errors:
        raise ConfigError(errors)
    chain = [(entry.label, kept[entry.type] if entry.type not in REPEATABLE_TYPES
              else _make(server, provided[entry.type][1], entry)) for entry in config.authorizers]
    replaced = [a for _, a in server.authorizer.authorizers if all(a is not b for _, b in chain)]
    server.authorizer.authorizers = chain
    log.info("authorization chain: %s", ", ".join(["privileged group system:masters",
                                                      *server.authorizer.names]))
    for authorizer in replaced:  # a webhook's connections
        close = getattr(authorizer, "aclose", None)
        if close is not None:
            await close()


def reload_hook(server: _Server) -> Callable[[Any], Awaitable[None]]:
    """The post-start hook that watches --authorization-config for the server's lifetime (its
    content now is what the chain was just built from)."""
    path = server.options.authorization_config
    current = Path(path).read_bytes()

    async def start(context: Any) -> None:
        context.spawn(RELOAD_HOOK, lambda: watch_file(
            path, lambda content: _apply(server, content), current=current, interval=RELOAD_INTERVAL))

    return start
