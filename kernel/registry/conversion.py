"""ConvertingStorage: a Storage that shows another resource's stored objects in a served shape.

The generic :class:`~kernel.registry.store.Store` of a ResourceSpec with a
:class:`~kernel.registry.resource.StorageConversion` runs over this wrapper of the shared watch
cache: everything the Store reads (gets, lists, watch events, the current object of an update)
arrives converted to the served shape, and everything it writes leaves in the stored shape.
Predicates (label and field selectors) are evaluated on the served shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from kernel.registry.resource import Object, StorageConversion
from kernel.storage.interface import ListResult, Preconditions, Storage, WatchEvent


class ConvertingStorage:
    def __init__(self, inner: Storage, conversion: StorageConversion) -> None:
        self.inner = inner
        self.conversion = conversion

    def _out_sync(self, obj: Object) -> Object:
        return self.conversion.from_storage(obj) if obj else obj

    async def _out_many(self, objs: list[Object]) -> list[Object]:
        many = self.conversion.from_storage_many
        if many is not None:
            return await many(objs) if objs else []
        return [self._out_sync(obj) for obj in objs]

    async def _out(self, obj: Object) -> Object:
        return (await self._out_many([obj]))[0] if obj else obj

    async def _in(self, obj: Object) -> Object:
        if not obj:
            return obj
        many = self.conversion.to_storage_many
        return (await many([obj]))[0] if many is not None else self.conversion.to_storage(obj)

    def _predicate(self, predicate: Any) -> Any:
        return None if predicate is None else (lambda obj: predicate(self._out_sync(obj)))

    async def create(self, key: str, obj: Object) -> Object:
        return await self._out(await self.inner.create(key, await self._in(obj)))

    async def get(self, key: str) -> Object:
        return await self._out(await self.inner.get(key))

    async def get_list(self, prefix: str, *, revision: int | None = None, limit: int = 0,
                       continue_from: str | None = None, predicate: Any = None) -> ListResult:
        result = await self.inner.get_list(prefix, revision=revision, limit=limit,
                                           continue_from=continue_from,
                                           predicate=self._predicate(predicate))
        result.items = await self._out_many(list(result.items))
        return result

    async def guaranteed_update(self, key: str, try_update: Any, *,
                                preconditions: Preconditions | None = None,
                                ignore_not_found: bool = False) -> Object:
        async def converted(current: Object) -> Object:
            new = try_update(await self._out(current))
            if isinstance(new, Awaitable):
                new = await new
            return await self._in(new)

        return await self._out(await self.inner.guaranteed_update(
            key, converted, preconditions=preconditions, ignore_not_found=ignore_not_found))

    async def delete(self, key: str, *, preconditions: Preconditions | None = None,
                     validate_deletion: Any = None) -> Object:
        check = None if validate_deletion is None else (
            lambda current: validate_deletion(self._out_sync(current)))
        return await self._out(await self.inner.delete(key, preconditions=preconditions,
                                                       validate_deletion=check))

    @asynccontextmanager
    async def watch(self, prefix: str, *, revision: int, predicate: Any = None,
                    bookmarks: bool = False, progress_notify: bool = False,
                    deadline: float | None = None) -> AsyncIterator[AsyncIterator[WatchEvent]]:
        async with self.inner.watch(prefix, revision=revision, predicate=self._predicate(predicate),
                                    bookmarks=bookmarks, progress_notify=progress_notify,
                                    deadline=deadline) as events:
            yield self._events(events)

    async def _events(self, events: AsyncIterator[WatchEvent]) -> AsyncIterator[WatchEvent]:
        async for event in events:
            if event.type == "BOOKMARK":
                yield event
                continue
            objs = [event.object] if event.prev_object is None else [event.object, event.prev_object]
            converted = await self._out_many(objs)
            prev = converted[1] if len(converted) > 1 else None
            yield WatchEvent(event.type, converted[0], prev, event.revision, event.key)

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def health(self) -> None:
        await self.inner.health()

    async def close(self) -> None:
        """The shared storage is closed by its owner, not by one of its views."""
