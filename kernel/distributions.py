"""Installed distributions and their entry points, read from the ``.dist-info`` / ``.egg-info``
directories on ``sys.path`` as importlib.metadata finds them.

Why not importlib.metadata: importing it imports ``email`` (its Message class is the metadata
API), ``zipfile``, ``csv``, ``calendar`` and ``importlib.resources`` at module level, about 1.4 MB
of RSS that ``kernel serve`` keeps for its whole life for two answers: the ``kernel.plugins``
entry points and each plugin distribution's name and version. The importlib_metadata backport
imports the same modules on those two calls (measured: ``entry_points()`` imports zipfile,
reading metadata imports email). So the kernel reads what the packaging specifications define
(the recorded-installed-projects layout, the entry points file format, the metadata headers)
for directories on ``sys.path``, which is every pip-installed, editable or shiv-unpacked
environment, and hands a zip archive on ``sys.path`` that holds distributions to
importlib.metadata.
Discovery follows importlib.metadata's: ``sys.path`` order, and a distribution name found again
further down the path is ignored.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import msgspec

_INFO_SUFFIXES = (".dist-info", ".egg-info")
_EXTRAS = re.compile(r"\s*\[.*\]\s*$")


class Distribution(msgspec.Struct, frozen=True):
    """An installed distribution: its metadata directory."""

    path: str

    @property
    def key(self) -> str:
        """The name as the directory spells it (importlib.metadata's uniqueness key)."""
        return os.path.basename(self.path).rpartition(".")[0].partition("-")[0]

    def read_text(self, filename: str) -> str | None:
        try:
            with open(os.path.join(self.path, filename), encoding="utf-8") as file:
                return file.read()
        except OSError:
            return None

    @property
    def metadata(self) -> dict[str, str]:
        """The headers of METADATA (PKG-INFO for an egg-info): the first value of each."""
        for filename in ("METADATA", "PKG-INFO"):
            headers = self._headers(filename)
            if headers is not None:
                return headers
        return {}

    def _headers(self, filename: str) -> dict[str, str] | None:
        """The headers of ``filename``, read up to the blank line that ends them (the body after
        it, the description, is often the whole README); None if it is missing or empty."""
        headers: dict[str, str] = {}
        empty = True
        try:
            with open(os.path.join(self.path, filename), encoding="utf-8") as file:
                for line in file:
                    empty = False
                    if not line.strip():
                        return headers  # the body starts after the first blank line
                    if line[0] in " \t":
                        continue  # a folded continuation of the previous header
                    name, sep, value = line.partition(":")
                    if sep:
                        headers.setdefault(name.strip(), value.strip())
        except OSError:
            return None
        return None if empty else headers

    @property
    def name(self) -> str:
        return self.metadata.get("Name", "?")

    @property
    def version(self) -> str:
        return self.metadata.get("Version", "?")

    def entry_points(self) -> list[EntryPoint]:
        """The entry points file: ``[group]`` sections of ``name = module:attr [extras]`` lines."""
        found, group = [], ""
        for raw in (self.read_text("entry_points.txt") or "").splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                group = line[1:-1].strip()
                continue
            name, sep, value = line.partition("=")
            if sep:
                found.append(EntryPoint(name.strip(), value.strip(), group, self))
        return found


class EntryPoint(msgspec.Struct, frozen=True):
    name: str
    value: str  # module[:attr.path] [extras]
    group: str
    dist: Any = None  # a Distribution (or importlib.metadata's, from a zip archive)

    def load(self) -> Any:
        module, _, attrs = _EXTRAS.sub("", self.value).partition(":")
        found = importlib.import_module(module.strip())
        for attr in filter(None, attrs.strip().split(".")):
            found = getattr(found, attr)
        return found


def distributions() -> Iterator[Distribution]:
    """Every distribution on ``sys.path`` (a name's first one only), in path order."""
    seen: set[str] = set()
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:  # missing, or a file (zip archives go to importlib.metadata)
            continue
        for child in children:
            if child.lower().endswith(_INFO_SUFFIXES):
                dist = Distribution(os.path.join(root, child))
                if dist.key not in seen:
                    seen.add(dist.key)
                    yield dist


def _zip_on_path() -> bool:
    """Whether an archive on ``sys.path`` holds distributions (importlib.metadata reads those)."""
    for entry in sys.path:
        if entry and os.path.isfile(entry):
            stat = os.stat(entry)
            if _archive_holds_metadata(entry, stat.st_mtime_ns, stat.st_size):
                return True
    return False


@functools.lru_cache(maxsize=16)
def _archive_holds_metadata(path: str, mtime_ns: int, size: int) -> bool:
    """A metadata directory at the top of the archive, where importlib.metadata looks (a shiv
    bundle's own .pyz holds none: its packages are unpacked to a directory on ``sys.path``)."""
    import zipfile  # only with an archive on sys.path (shiv's bootstrap has imported it already)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False  # not an archive: importlib.metadata finds nothing in it either
    egg = path.lower().endswith(".egg")
    for name in names:
        top = name.split("/", 1)[0].lower()
        if top.endswith(_INFO_SUFFIXES) or (egg and top == "egg-info"):
            return True
    return False


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group`` of every installed distribution."""
    if _zip_on_path():
        from importlib import metadata  # an archive on sys.path: let importlib read it
        return [EntryPoint(ep.name, ep.value, ep.group, ep.dist)
                for ep in metadata.entry_points(group=group)]
    return [ep for dist in distributions() for ep in dist.entry_points() if ep.group == group]


def version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None."""
    if _zip_on_path():
        from importlib import metadata
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None
    wanted = _normalize(name)
    for dist in distributions():
        if _normalize(dist.key) == wanted:
            return dist.version
    return None


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()
