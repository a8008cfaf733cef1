"""storage_memory: the ``memory`` storage backend (an in-process MVCC store; nothing persists)."""

from __future__ import annotations

from kernel import hookimpl
from kernel.server.options import Options, OptionSet

from kernel_storage_memory.store import DEFAULT_HISTORY, MemoryStorage

__all__ = ["MemoryStorage", "DEFAULT_HISTORY"]


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
    return MemoryStorage(history=context.options.storage_memory_history)


@hookimpl
def kernel_storage_backends() -> dict[str, object]:
    return {"memory": _factory}
