"""A regular expression compiled on first use instead of at import.

Compiling the kernel's and its plugins' module-level patterns costs milliseconds at every start,
for validators most starts never run. ``lazy_compile`` takes what ``re.compile`` takes and returns
a stand-in with the pattern's methods. Until the first call each method is a stub that compiles
the pattern and puts the compiled pattern's bound methods in the stand-in's slots; from then on
``p.match(s)`` is a slot read (which CPython specializes) and the compiled pattern's own method:
no extra call and no check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, AnyStr, Generic

# The methods of re.Pattern a stand-in offers (each a slot: a stub, then the compiled method).
_METHODS = ("match", "fullmatch", "search", "sub", "subn", "split", "findall", "finditer")


class LazyPattern(Generic[AnyStr]):
    """``re.compile(pattern, flags)`` done at the first call of any of its methods."""

    __slots__ = (*_METHODS, "pattern", "flags", "_compiled")

    match: Callable[..., re.Match[AnyStr] | None]
    fullmatch: Callable[..., re.Match[AnyStr] | None]
    search: Callable[..., re.Match[AnyStr] | None]
    sub: Callable[..., AnyStr]
    subn: Callable[..., tuple[AnyStr, int]]
    split: Callable[..., list[Any]]
    findall: Callable[..., list[Any]]
    finditer: Callable[..., Iterator[re.Match[AnyStr]]]
    pattern: AnyStr
    flags: int
    _compiled: re.Pattern[AnyStr] | None

    def __init__(self, pattern: AnyStr, flags: int = 0) -> None:
        self.pattern, self.flags, self._compiled = pattern, flags, None
        for name in _METHODS:
            setattr(self, name, self._stub(name))

    def _stub(self, name: str) -> Callable[..., Any]:
        def first_call(*args: Any, **kwargs: Any) -> Any:
            return getattr(self.compiled(), name)(*args, **kwargs)
        return first_call

    def compiled(self) -> re.Pattern[AnyStr]:
        """The compiled pattern (compiled now if not yet)."""
        if self._compiled is None:
            self._compiled = compiled = re.compile(self.pattern, self.flags)
            for name in _METHODS:
                setattr(self, name, getattr(compiled, name))
        return self._compiled

    @property
    def groups(self) -> int:
        return self.compiled().groups

    @property
    def groupindex(self) -> Any:
        return self.compiled().groupindex

    def __repr__(self) -> str:
        return f"lazy_compile({self.pattern!r}{f', {self.flags!r}' if self.flags else ''})"


def lazy_compile(pattern: AnyStr, flags: int = 0) -> LazyPattern[AnyStr]:
    """Like ``re.compile``, compiled when first used (for module-level patterns startup does not need)."""
    return LazyPattern(pattern, flags)
