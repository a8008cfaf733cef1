"""storage_sqlite: the ``sqlite`` storage backend, durable and embedded (one SQLite file under
``--data-dir``). ``kernel serve`` uses it by default when this plugin is installed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from kernel import hookimpl
from kernel.context import ServerContext
from kernel.plugins import PluginError
from kernel.server.healthz import CheckFailed, HealthCheck
from kernel.server.options import Options, OptionSet, non_negative_duration
from kernel.storage.errors import StorageError
from kernel_storage_memory import event_ttls, start_expiry

log = logging.getLogger("kernel.storage.sqlite")

DB_FILE = "kernel.db"
DEFAULT_COMPACTION_INTERVAL = 300.0  # kube's --etcd-compaction-interval
HEALTHCHECK_TIMEOUT = 2.0  # as kube's --etcd-healthcheck-timeout


@hookimpl
def kernel_add_options(options: OptionSet) -> None:
    options.add("sqlite-synchronous", default="FULL",
                help="SQLite's synchronous setting for the database (WAL mode): FULL (default) "
                     "syncs every commit, so an acknowledged write survives a crash of the process "
                     "and of the machine; NORMAL syncs only at checkpoints: faster, still safe "
                     "against a killed process, but the last acknowledged writes can be lost on "
                     "power loss or an OS crash.")
    options.add("sqlite-compaction-interval", default=DEFAULT_COMPACTION_INTERVAL,
                type=non_negative_duration,
                help="How often old revisions are compacted away (each round compacts at the "
                     "revision of the previous round, as kube's etcd compactor does); lists and "
                     "watches at older resourceVersions get 410 Gone. 0 disables it.")
    options.add("sqlite-history", default=10000, type=int,
                help="At most this many revisions of history are kept in memory for watches and "
                     "lists at past resourceVersions, whatever the compaction interval.")


@hookimpl
def kernel_validate_options(options: Options) -> list[str]:
    errors = []
    if options.sqlite_synchronous.upper() not in ("FULL", "NORMAL"):
        errors.append(f'--sqlite-synchronous: must be "FULL" or "NORMAL", got {options.sqlite_synchronous!r}')
    if options.sqlite_history < 1:
        errors.append(f"--sqlite-history: must be at least 1, got {options.sqlite_history}")
    return errors


def database_path(options: Any) -> Path:
    return Path(options.data_dir) / DB_FILE


def _factory(context: ServerContext) -> Any:
    from kernel_storage_sqlite.db import InUseError
    from kernel_storage_sqlite.store import SqliteStorage

    options = context.options
    try:
        return SqliteStorage(database_path(options), synchronous=options.sqlite_synchronous.upper(),
                             history=options.sqlite_history, ttls=event_ttls(options))
    except InUseError as error:  # a startup error, printed without a traceback
        raise PluginError(str(error)) from None


@hookimpl
def kernel_storage_backends() -> dict[str, Callable[[ServerContext], Any]]:
    return {"sqlite": _factory}


async def compact_periodically(storage: Any, interval: float) -> None:
    """Every ``interval``, compact at the revision seen one interval earlier."""
    previous = 0
    while True:
        await trio.sleep(interval)
        try:
            if previous:
                await storage.compact(previous)
                log.info("storage_sqlite: compacted at revision %d", previous)
            previous = await storage.current_revision()
        except StorageError as error:
            log.warning("storage_sqlite: compaction skipped: %s", error)


@hookimpl
def kernel_health_checks(context: ServerContext) -> list[HealthCheck]:
    from kernel_storage_sqlite.store import SqliteStorage

    storage = context.component("storage_backends", "sqlite")
    if not isinstance(storage, SqliteStorage):
        return []

    async def check() -> None:
        try:
            await storage.check(HEALTHCHECK_TIMEOUT)
        except StorageError as error:
            raise CheckFailed(error.message) from None

    # In /livez too: a failed write fails every later one, and only a restart recovers.
    return [HealthCheck("sqlite", check)]


@hookimpl
def kernel_post_start_hooks(context: ServerContext) -> dict[str, Callable[[ServerContext], Awaitable[None]]]:
    from kernel_storage_sqlite.store import SqliteStorage

    storage = context.component("storage_backends", "sqlite")
    if not isinstance(storage, SqliteStorage):
        return {}
    hooks: dict[str, Callable[[ServerContext], Awaitable[None]]] = {}
    if storage.ttls:
        hooks["storage-sqlite-expiry"] = start_expiry(storage)
    if context.options.sqlite_compaction_interval:
        async def start(context: ServerContext) -> None:
            context.spawn("sqlite-compactor", compact_periodically, storage,
                          context.options.sqlite_compaction_interval)
        hooks["storage-sqlite-compactor"] = start
    return hooks
