"""storage_memory: the ``memory`` storage backend (an in-process MVCC store; nothing persists)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kernel import hookimpl
from kernel.server.options import Options, OptionSet
from kernel.storage.keys import resource_prefix

from kernel_storage_memory.defaults import DEFAULT_HISTORY

if TYPE_CHECKING:
    from kernel_storage_memory.store import MemoryStorage

__all__ = ["MemoryStorage", "DEFAULT_HISTORY", "event_ttls", "start_expiry"]


def __getattr__(name: str) -> Any:
    """The store is imported when used, not when the plugin loads (every installed plugin loads,
    whichever backend is selected)."""
    if name == "MemoryStorage":
        from kernel_storage_memory.store import MemoryStorage
        return MemoryStorage
    raise AttributeError(name)


@hookimpl
def kernel_add_options(options: OptionSet) -> None:
    options.add("storage-memory-history", default=DEFAULT_HISTORY, type=int,
                help="How many revisions of history the memory storage keeps for lists and "
                     "watches at past resourceVersions; older ones get 410 Gone.")


@hookimpl
def kernel_validate_options(options: Options) -> list[str]:
    if options.storage_memory_history < 1:
        return [f"--storage-memory-history: must be at least 1, got {options.storage_memory_history}"]
    return []


def _factory(context) -> MemoryStorage:
    from kernel_storage_memory.store import MemoryStorage

    return MemoryStorage(history=context.options.storage_memory_history,
                         ttls=event_ttls(context.options))


def event_ttls(options: Options) -> dict[str, float]:
    """``--event-ttl`` as a storage TTL: events.k8s.io Events are stored as core ones."""
    return {resource_prefix("", "events"): options.event_ttl}


@hookimpl
def kernel_post_start_hooks(context) -> dict:
    storage = context.component("storage_backends", "memory")
    if storage is None or not storage.ttls:
        return {}
    return {"storage-memory-expiry": start_expiry(storage)}


def start_expiry(storage: MemoryStorage):
    """A post-start hook running the store's expiry of TTL'd keys (events) in the background."""
    period = min(1.0, min(storage.ttls.values()) / 4)

    async def start(context) -> None:
        context.spawn("storage-expiry", storage.expire_periodically, period)
    return start


@hookimpl
def kernel_storage_backends() -> dict[str, object]:
    return {"memory": _factory}
