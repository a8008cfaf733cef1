"""Paging through many objects: a suite for a Storage alone and under the watch cache.

Lists of a large state are read in pages (``limit`` and continue tokens). Every object must come
exactly once and in key order; the pages together are the snapshot of the first page, whatever is
written in between; a token whose snapshot was compacted away is 410 Gone with a token that
continues at the latest revision (kube's ``inconsistent continue``). ``COUNT`` objects over three
namespaces make many pages, and the watch cache's own list many pages of its own.

Subclass :class:`ListPagingConformance` and provide an async ``backend`` fixture yielding a fresh,
empty store; set ``cached`` to run the suite against a watch cache over it. Override ``fill`` to
load the objects faster than one ``create`` each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from kernel.storage import cacher as cacher_module
from kernel.storage.cacher import open_cacher
from kernel.storage.errors import INCONSISTENT_CONTINUE, ResourceExpiredError
from kernel.storage.interface import ListResult, Object, Storage

PREFIX = "/registry/widgets/"
NAMESPACES = ("alpha", "beta", "gamma")
COUNT = 1200
LIMIT = 100


def widget(index: int) -> tuple[str, Object]:
    """The key and object of the ``index``-th widget (names not in creation order)."""
    namespace = NAMESPACES[index % len(NAMESPACES)]
    name = f"w{(index * 7919) % COUNT:05d}"
    return f"{PREFIX}{namespace}/{name}", {
        "apiVersion": "test.kernel.dev/v1", "kind": "Widget",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{index}",
                     "labels": {"n": str(index)}},
        "data": {"v": "x" * (index % 50)}}


def key_of(obj: Object) -> str:
    meta = obj["metadata"]
    return f"{PREFIX}{meta['namespace']}/{meta['name']}"


def decoded(items: list[Any]) -> list[Object]:
    """Items as objects: the watch cache hands ``encoded`` lists over as raw JSON."""
    return [msgspec.json.decode(item) if isinstance(item, msgspec.Raw) else item
            for item in items]


class ListPagingConformance:
    cached = False
    list_page = 64  # the watch cache's own list page size, here (many pages of COUNT)

    @pytest.fixture
    async def backend(self) -> AsyncIterator[Storage]:
        raise NotImplementedError("provide a 'backend' fixture yielding an empty Storage")
        yield  # pragma: no cover

    async def fill(self, backend: Storage) -> None:
        for index in range(COUNT):
            await backend.create(*widget(index))

    @pytest.fixture
    async def storage(self, backend: Storage, monkeypatch: pytest.MonkeyPatch,
                      ) -> AsyncIterator[Storage]:
        await self.fill(backend)
        if not self.cached:
            yield backend
            return
        monkeypatch.setattr(cacher_module, "LIST_PAGE", self.list_page)
        async with open_cacher(backend, PREFIX) as cache:
            yield cache

    async def page(self, storage: Storage, token: str | None, **options: Any) -> ListResult:
        if self.cached:
            options["encoded"] = True  # what the API asks of the cache for a JSON list
        return await storage.get_list(PREFIX, limit=LIMIT, continue_from=token, **options)

    async def test_every_object_once_in_key_order(self, storage: Storage, backend: Storage) -> None:
        whole = await storage.get_list(PREFIX)
        assert whole.items == (await backend.get_list(PREFIX)).items  # the cache has them all
        assert sorted(key_of(obj) for obj in whole.items) == sorted(widget(i)[0] for i in range(COUNT))
        seen: list[Object] = []
        token = None
        pages = 0
        while True:
            page = await self.page(storage, token)
            items = decoded(page.items)
            seen += items
            pages += 1
            assert page.revision == whole.revision
            if page.continue_from is None:
                break
            assert len(items) == LIMIT and page.remaining == COUNT - len(seen)
            token = page.continue_from
        assert pages == COUNT // LIMIT
        assert [key_of(obj) for obj in seen] == sorted(key_of(obj) for obj in whole.items)
        assert seen == whole.items  # the same objects, resourceVersions included

    async def test_pages_across_writes_read_the_first_page_snapshot(self, storage: Storage) -> None:
        first = await self.page(storage, None)
        snapshot = await storage.get_list(PREFIX, revision=first.revision)
        later = sorted(key_of(obj) for obj in snapshot.items)[LIMIT * 3:]
        for key in later[:10]:  # deleted, updated, created after the first page
            await storage.delete(key)
        for key in later[10:20]:
            await storage.guaranteed_update(key, lambda obj: {**obj, "data": {"v": "changed"}})
        for index in range(20):
            key, obj = widget(index)
            obj["metadata"]["name"] += "-new"
            await storage.create(key + "-new", obj)
        seen = decoded(first.items)
        token = first.continue_from
        while token:
            page = await self.page(storage, token)
            assert page.revision == first.revision
            seen += decoded(page.items)
            token = page.continue_from
        assert seen == snapshot.items
        now = await storage.get_list(PREFIX)
        assert len(now.items) == COUNT + 10 and now.revision > first.revision

    async def test_continue_after_compaction_is_gone(self, storage: Storage) -> None:
        first = await self.page(storage, None)
        second = await self.page(storage, first.continue_from)
        key, obj = widget(0)
        await storage.guaranteed_update(key, lambda obj: {**obj, "data": {"v": "changed"}})
        # Gone even from a watch cache that has not seen the write yet.
        await storage.compact(await storage.current_revision())
        with pytest.raises(ResourceExpiredError) as info:
            await self.page(storage, second.continue_from)
        assert info.value.message == INCONSISTENT_CONTINUE and info.value.continue_token
        rest: list[Object] = []
        token = info.value.continue_token
        current = await storage.current_revision()
        while token:  # the token of a 410 continues at the latest revision
            page = await self.page(storage, token)
            assert page.revision >= current
            rest += decoded(page.items)
            token = page.continue_from
        keys = sorted(key_of(obj) for obj in (await storage.get_list(PREFIX)).items)
        assert [key_of(obj) for obj in rest] == keys[2 * LIMIT:]
