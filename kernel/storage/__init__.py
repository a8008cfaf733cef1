"""Storage: the interface every backend implements, keys, continue tokens, the watch cache.

Backends are plugins (``kernel_storage_backends``); the kernel owns the contract
(:mod:`kernel.storage.interface`), its conformance suite (:mod:`kernel.storage.testing`) and the
watch cache that sits above any backend (:mod:`kernel.storage.cacher`).
"""

from kernel.storage.cacher import Cacher, open_cacher
from kernel.storage.errors import (
    ConflictError, InvalidContinueError, KeyExistsError, KeyNotFoundError, ResourceExpiredError,
    StorageError, StorageTimeoutError, StorageUnavailableError, TooLargeResourceVersionError,
    WatchTooSlowError,
)
from kernel.storage.interface import (
    ListResult, Object, Predicate, Preconditions, Storage, WatchEvent, bookmark, filter_event,
    with_resource_version,
)
from kernel.storage.keys import list_prefix, object_key, resource_prefix

__all__ = [
    "Cacher", "open_cacher",
    "ConflictError", "InvalidContinueError", "KeyExistsError", "KeyNotFoundError",
    "ResourceExpiredError", "StorageError", "StorageTimeoutError", "StorageUnavailableError",
    "TooLargeResourceVersionError", "WatchTooSlowError",
    "ListResult", "Object", "Predicate", "Preconditions", "Storage", "WatchEvent", "bookmark",
    "filter_event", "with_resource_version",
    "list_prefix", "object_key", "resource_prefix",
]
