"""A Storage that times each backend call into the storage-request histogram.

One per resource (the watch cache of that resource sits above it), so the histogram carries the
resource as kube's ``etcd_request_duration_seconds`` does in its ``type`` label, plus the
backend's name: ``apiserver_storage_request_duration_seconds{backend,operation,type}``. Watches
are long-lived streams and are not timed (kube does not time them either).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from kernel.storage.interface import (
    ListResult, Object, Preconditions, Storage, TryUpdate, ValidateDeletion, WatchEvent,
)


class InstrumentedStorage:
    def __init__(self, backend: Storage, histogram: Callable[[str], Any]) -> None:
        self.backend = backend
        self._histogram = histogram  # its children are made on first use: an operation never
        #                              called adds no series to /metrics

    def _observe(self, operation: str, start: float) -> None:
        self._histogram(operation).observe(time.perf_counter() - start)

    async def create(self, key: str, obj: Object) -> Object:
        start = time.perf_counter()
        try:
            return await self.backend.create(key, obj)
        finally:
            self._observe("create", start)

    async def get(self, key: str) -> Object:
        start = time.perf_counter()
        try:
            return await self.backend.get(key)
        finally:
            self._observe("get", start)

    async def get_list(self, prefix: str, **options: Any) -> ListResult:
        start = time.perf_counter()
        try:
            return await self.backend.get_list(prefix, **options)
        finally:
            self._observe("list", start)

    async def guaranteed_update(self, key: str, try_update: TryUpdate, *,
                                preconditions: Preconditions | None = None,
                                ignore_not_found: bool = False) -> Object:
        start = time.perf_counter()
        try:
            return await self.backend.guaranteed_update(
                key, try_update, preconditions=preconditions, ignore_not_found=ignore_not_found)
        finally:
            self._observe("update", start)

    async def delete(self, key: str, *, preconditions: Preconditions | None = None,
                     validate_deletion: ValidateDeletion | None = None) -> Object:
        start = time.perf_counter()
        try:
            return await self.backend.delete(key, preconditions=preconditions,
                                             validate_deletion=validate_deletion)
        finally:
            self._observe("delete", start)

    async def current_revision(self) -> int:
        start = time.perf_counter()
        try:
            return await self.backend.current_revision()
        finally:
            self._observe("current_revision", start)

    async def compact(self, revision: int) -> None:
        start = time.perf_counter()
        try:
            await self.backend.compact(revision)
        finally:
            self._observe("compact", start)

    def watch(self, prefix: str, **options: Any,
              ) -> AbstractAsyncContextManager[AsyncIterator[WatchEvent]]:
        return self.backend.watch(prefix, **options)  # only what the caller passed

    async def health(self) -> None:
        await self.backend.health()

    async def close(self) -> None:
        await self.backend.close()

    def __getattr__(self, name: str) -> Any:  # anything backend-specific passes through
        return getattr(self.backend, name)
