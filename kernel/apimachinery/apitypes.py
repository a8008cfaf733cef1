"""Generated API types: the loader of a group's data written by ``scripts/generate-api``.

An API group plugin ships one JSON file per group-version (``<plugin>/generated/<version>.json``)
holding the OpenAPI v3 components and protobuf field tables of its kinds, generated from
Kubernetes' own API description. Nothing is read at import: the file is parsed when a spec first
needs its schemas, and each protobuf message is built the first time a body of it is decoded.

    CORE = GeneratedTypes.beside(__file__, "v1")
    configmap_spec = ResourceSpec(..., **CORE.spec_fields("ConfigMap"))
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec

from .protobuf.schema import MAP, MESSAGE, Field, Message

Schema = dict[str, Any]


class GeneratedTypes:
    """One group-version's generated data, loaded on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._messages: dict[str, Message] = {}
        self._names: dict[int, str] = {}  # id(message) → full proto name, for _build

    @classmethod
    def beside(cls, module_file: str, version: str) -> GeneratedTypes:
        """The data of ``version`` in the ``generated/`` folder next to a plugin module."""
        return cls(Path(module_file).resolve().parent / "generated" / f"{version}.json")

    @cached_property
    def data(self) -> dict[str, Any]:
        return msgspec.json.decode(self.path.read_bytes())

    @cached_property
    def schemas(self) -> Mapping[str, Schema]:
        """Every OpenAPI component the group-version's kinds reach (meta types included)."""
        return LazySchemas(self)

    def kinds(self) -> dict[str, dict[str, str]]:
        return self.data["kinds"]

    def schema_name(self, kind: str) -> str:
        return self.data["kinds"][kind]["schema"]

    def description(self, kind: str) -> str:
        return self.schemas[self.schema_name(kind)].get("description", "")

    def message(self, kind: str) -> Message | None:
        """The kind's protobuf message (built lazily), or None when it has none."""
        name = self.data["kinds"][kind]["message"]
        return self._message(name) if name else None

    def spec_fields(self, kind: str, with_protobuf: bool = True) -> dict[str, Any]:
        """``schema_name``, ``schemas`` and ``protobuf`` for a ``ResourceSpec`` of ``kind``.

        Reads the file now (a spec needs its schema name); the messages stay lazy.
        """
        return {"schema_name": self.schema_name(kind), "schemas": self.schemas,
                "protobuf": self.message(kind) if with_protobuf else None}

    def _message(self, name: str) -> Message:
        message = self._messages.get(name)
        if message is None:
            # Fields are filled on first decode; nested messages the same way, so a cycle of
            # types costs nothing and unused types are never built.
            message = self._messages[name] = Message(name.rsplit(".", 1)[1], {},
                                                     build=self._build)
            self._names[id(message)] = name
        return message

    def _build(self, message: Message) -> None:
        name = self._names[id(message)]
        for number, json_name, kind, flags, target in self.data["messages"][name]:
            nested = self._message(target) if target else None
            if kind.startswith("map:"):
                value = kind[4:]
                message.fields[number] = Field(json_name, MAP, nested, value=value)
                continue
            message.fields[number] = Field(json_name, kind, nested if kind == MESSAGE else None,
                                           repeated="r" in flags, keep_zero="z" in flags,
                                           inline="i" in flags)


class LazySchemas(Mapping[str, Schema]):
    """The group's components, parsed from the file on first access."""

    def __init__(self, types: GeneratedTypes) -> None:
        self._types = types

    @property
    def _schemas(self) -> dict[str, Schema]:
        return self._types.data["schemas"]

    def __getitem__(self, name: str) -> Schema:
        return self._schemas[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._schemas)

    def __len__(self) -> int:
        return len(self._schemas)
