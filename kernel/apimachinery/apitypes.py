"""Generated API types: the loader of a group's data written by ``scripts/generate-api``.

An API group plugin ships one JSON file per group-version (``<plugin>/generated/<version>.json``)
holding the OpenAPI v3 components and protobuf field tables of its kinds, generated from
Kubernetes' own API description. Nothing is read at import, and little at registration: a spec
needs only its kind's schema and message names (the file's small ``kinds`` table). The first time
a component or field table is needed, the file is indexed (where each one lies in it); each is
then read and decoded on its own first use — a kind's schema and what it references, the
messages of the bodies actually sent as protobuf — so the whole file is never held decoded.

    CORE = GeneratedTypes.beside(__file__, "v1")
    configmap_spec = ResourceSpec(..., **CORE.spec_fields("ConfigMap"))
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec

from .protobuf.schema import MAP, MESSAGE, Field, Message

Schema = dict[str, Any]
Kinds = dict[str, dict[str, str]]


class _Index(msgspec.Struct):
    """What registration reads: the kind table, and the components still as JSON text (views
    into the file's bytes, dropped with them) for the kinds' descriptions."""

    kinds: Kinds
    schemas: dict[str, msgspec.Raw]


class _Described(msgspec.Struct):
    """A component's description; msgspec skips its other fields without building them."""

    description: str = ""


class _Sections(msgspec.Struct):
    """Components and messages by name, each still JSON text (views into the file's bytes)."""

    schemas: dict[str, msgspec.Raw]
    messages: dict[str, msgspec.Raw]


Span = tuple[int, int]


def _spans(data: bytes, pieces: dict[str, msgspec.Raw]) -> dict[str, Span]:
    """Where each piece lies in ``data``: pieces come in the file's order, so each is found just
    past the one before (only its key lies between, and no key holds a JSON object or array)."""
    spans: dict[str, Span] = {}
    at = 0
    for name, piece in pieces.items():
        start = data.index(piece, at)
        at = start + len(piece)
        spans[name] = (start, at)
    return spans


class _Split:
    """Where each component and message lies in the file, which is read again, a piece at a
    time, on a piece's first use: an idle server holds these offsets, not the file's text."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as file:
            self._index(file)

    def _index(self, file: Any) -> None:
        stat = os.fstat(file.fileno())
        self.stamp = (stat.st_size, stat.st_mtime_ns)
        data = file.read()
        sections = msgspec.json.decode(data, type=_Sections)
        self.schemas = _spans(data, sections.schemas)
        self.messages = _spans(data, sections.messages)

    def read(self, section: str, name: str) -> Any:
        """The piece ``name`` of ``section`` (``schemas`` or ``messages``), decoded."""
        with open(self.path, "rb") as file:
            stat = os.fstat(file.fileno())
            if (stat.st_size, stat.st_mtime_ns) != self.stamp:  # regenerated or reinstalled
                self._index(file)
            start, end = getattr(self, section)[name]
            file.seek(start)
            return msgspec.json.decode(file.read(end - start))


class GeneratedTypes:
    """One group-version's generated data, loaded on first use and a piece at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._messages: dict[str, Message] = {}
        self._names: dict[int, str] = {}  # id(message) → full proto name, for _build

    @classmethod
    def beside(cls, module_file: str, version: str) -> GeneratedTypes:
        """The data of ``version`` in the ``generated/`` folder next to a plugin module."""
        return cls(Path(module_file).resolve().parent / "generated" / f"{version}.json")

    @cached_property
    def _index(self) -> tuple[Kinds, dict[str, str]]:
        """(kind table, each kind's description): all registration keeps, not the file's bytes."""
        index = msgspec.json.decode(self.path.read_bytes(), type=_Index)
        descriptions = {
            kind: msgspec.json.decode(index.schemas[names["schema"]], type=_Described).description
            for kind, names in index.kinds.items() if names["schema"] in index.schemas}
        return index.kinds, descriptions

    @cached_property
    def _split(self) -> _Split:
        return _Split(self.path)

    @cached_property
    def schemas(self) -> Mapping[str, Schema]:
        """Every OpenAPI component the group-version's kinds reach (meta types included)."""
        return LazySchemas(self)

    def kinds(self) -> Kinds:
        return self._index[0]

    def schema_name(self, kind: str) -> str:
        return self._index[0][kind]["schema"]

    def description(self, kind: str) -> str:
        return self._index[1][kind]

    def message(self, kind: str) -> Message | None:
        """The kind's protobuf message (built lazily), or None when it has none."""
        name = self._index[0][kind]["message"]
        return self._message(name) if name else None

    def spec_fields(self, kind: str, with_protobuf: bool = True) -> dict[str, Any]:
        """``schema_name``, ``schemas`` and ``protobuf`` for a ``ResourceSpec`` of ``kind``.

        Reads only the kind table; schemas and messages stay undecoded until used.
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
        split = self._split
        fields: dict[int, Field] = {}
        for number, json_name, kind, flags, target in split.read("messages",
                                                                 self._names[id(message)]):
            nested = self._message(target) if target else None
            if kind.startswith("map:"):
                fields[number] = Field(json_name, MAP, nested, value=kind[4:])
            else:
                fields[number] = Field(json_name, kind, nested if kind == MESSAGE else None,
                                       repeated="r" in flags, keep_zero="z" in flags,
                                       inline="i" in flags)
        message.fields.update(fields)  # at once: another thread sees no fields or all of them


class LazySchemas(Mapping[str, Schema]):
    """The group's components: names known once the file is split, each component read and
    decoded on its first lookup and kept (every later lookup returns the same dict, as a decoded
    file did)."""

    def __init__(self, types: GeneratedTypes) -> None:
        self._types = types
        self._decoded: dict[str, Schema] = {}

    @property
    def _spans(self) -> dict[str, Span]:
        return self._types._split.schemas

    def __getitem__(self, name: str) -> Schema:
        schema = self._decoded.get(name)
        if schema is None:
            if name not in self._spans:
                raise KeyError(name)
            # setdefault: a racing thread's lookup gets the same dict
            schema = self._decoded.setdefault(name, self._types._split.read("schemas", name))
        return schema

    def __contains__(self, name: object) -> bool:
        return name in self._spans  # without reading it

    def __iter__(self) -> Iterator[str]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)
