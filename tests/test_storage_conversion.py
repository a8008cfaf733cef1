"""StorageConversion: a resource served from another resource's storage, in its own shape.

A ``Gadget`` (example.com/v1, field ``size``) is stored as a core-shaped ``Widget`` (field
``width``) under the widgets' keys: the Store sees gadgets everywhere (create, get, list with a
predicate, update, watch, delete) and storage holds widgets only.
"""

from __future__ import annotations

from typing import Any

import trio

from kernel.apimachinery import schemas as meta
from kernel.registry.conversion import ConvertingStorage
from kernel.registry.resource import ResourceSpec, StorageConversion
from kernel.registry.store import ListOptions, Store
from kernel.authentication.user import UserInfo
from kernel.storage.cacher import open_cacher
from kernel_storage_memory.store import MemoryStorage


def kind_schemas(group: str, version: str, kind: str, schema_name: str,
                 description: str) -> dict[str, dict[str, Any]]:
    """A test kind's schemas: it keeps every field it is sent. ``{schema_name: kind, schema_name + "List": its list, **meta types}`` for a ResourceSpec."""
    kind_schema = {
        "description": description,
        "properties": {**meta.type_meta_properties(),
                       "metadata": meta.ref_field(meta.OBJECT_META, meta.OBJECT_METADATA_DESCRIPTION,
                                                  default={})},
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-group-version-kind": meta.gvk(group, version, kind),
    }
    return {schema_name: kind_schema,
            schema_name + "List": meta.list_schema(group, version, kind, schema_name,
                                                   f"{kind}List is a list of {kind} objects.",
                                                   f"items is the list of {kind} objects."),
            **meta.meta_schemas()}


ADMIN = UserInfo("admin", groups=("system:masters",))


def to_widget(gadget: dict) -> dict:
    out = {"apiVersion": "v1", "kind": "Widget", "metadata": gadget["metadata"]}
    if "size" in gadget:
        out["width"] = gadget["size"]
    return out


def to_gadget(widget: dict) -> dict:
    out = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": widget["metadata"]}
    if "width" in widget:
        out["size"] = widget["width"]
    return out


GADGETS = ResourceSpec(
    group="example.com", version="v1", kind="Gadget", plural="gadgets", singular="gadget", namespaced=True,
    schema_name="com.example.v1.Gadget",
    schemas=kind_schemas("example.com", "v1", "Gadget", "com.example.v1.Gadget", "A gadget."),
    conversion=StorageConversion(group="", plural="widgets", to_storage=to_widget, from_storage=to_gadget))


def test_the_spec_uses_the_stored_resources_keys() -> None:
    assert GADGETS.storage_prefix == "/registry/widgets/"  # not /registry/example.com/gadgets/
    assert GADGETS.storage_resource == ("", "widgets")


async def test_every_verb_converts() -> None:
    backend = MemoryStorage()
    async with open_cacher(backend, GADGETS.storage_prefix) as cacher:
        store = Store(GADGETS, ConvertingStorage(cacher, GADGETS.conversion))
        created = await store.create("ns", {"metadata": {"name": "g1"}, "size": 3}, ADMIN)
        assert created["apiVersion"] == "example.com/v1" and created["size"] == 3
        raw = await backend.get(store.key("ns", "g1"))
        assert raw["apiVersion"] == "v1" and raw["kind"] == "Widget" and raw["width"] == 3 and "size" not in raw

        async with store.watch("ns", int(created["metadata"]["resourceVersion"]), None) as events:
            updated, _ = await store.update("ns", "g1", lambda g: {**g, "size": 4}, ADMIN)
            assert updated["size"] == 4 and (await backend.get(store.key("ns", "g1")))["width"] == 4
            with trio.fail_after(10):
                event = await events.__anext__()
            assert event.type == "MODIFIED" and event.object["kind"] == "Gadget" and event.object["size"] == 4
            assert event.prev_object is not None and event.prev_object["size"] == 3

        await store.create("ns", {"metadata": {"name": "g2"}, "size": 9}, ADMIN)
        listed = await store.list("ns", ListOptions(predicate=lambda g: g.get("size") == 9))
        assert [(g["kind"], g["metadata"]["name"]) for g in listed.items] == [("Gadget", "g2")]
        got = await store.get("ns", "g2")
        assert got["kind"] == "Gadget" and got["size"] == 9

        deleted, now = await store.delete("ns", "g1", ADMIN)
        assert now and deleted["kind"] == "Gadget" and deleted["size"] == 4
