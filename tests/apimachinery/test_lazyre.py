"""kernel.apimachinery.lazyre: a pattern compiled at its first use, then the compiled pattern's own
methods (no wrapper left on the call path)."""

from __future__ import annotations

import re

from kernel.apimachinery.lazyre import LazyPattern, lazy_compile


def test_compiles_at_first_use_and_answers_as_re() -> None:
    source = r"(?P<id>[a-z0-9]{6})\.([a-z0-9]{16})"
    lazy, eager = lazy_compile(source), re.compile(source)
    assert isinstance(lazy, LazyPattern)
    assert lazy._compiled is None  # nothing compiled at import
    assert lazy.pattern == source and lazy.flags == 0  # known without compiling
    assert lazy._compiled is None
    text = "abcdef.0123456789abcdef"
    assert lazy.fullmatch(text).group("id") == eager.fullmatch(text).group("id") == "abcdef"
    assert lazy._compiled == eager
    assert lazy.match("x") is None and lazy.search(f"- {text}").span() == eager.search(f"- {text}").span()
    assert lazy.groups == 2 and lazy.groupindex == {"id": 1}


def test_every_method_compiles_on_its_own_first_call() -> None:
    cases = {"match": ("a1",), "fullmatch": ("a1",), "search": ("-a1",), "sub": ("", "a1b2"),
             "subn": ("", "a1b2"), "split": ("a1b2",), "findall": ("a1b2",), "finditer": ("a1b2",)}
    for method, args in cases.items():
        lazy, eager = lazy_compile("[a-z][0-9]", re.I), re.compile("[a-z][0-9]", re.I)
        got, want = getattr(lazy, method)(*args), getattr(eager, method)(*args)
        if method == "finditer":
            got, want = [m.span() for m in got], [m.span() for m in want]
        elif method in ("match", "fullmatch", "search"):
            got, want = got.span(), want.span()
        assert got == want, method
        # after the first call the slot holds the compiled pattern's bound method
        assert getattr(lazy, method) == getattr(eager, method)


def test_bytes_patterns_and_repr() -> None:
    lazy = lazy_compile(rb"-----BEGIN ([A-Z ]+)-----", re.S)
    assert repr(lazy) == "lazy_compile(b'-----BEGIN ([A-Z ]+)-----', re.DOTALL)"
    assert lazy.match(b"-----BEGIN CERTIFICATE-----").group(1) == b"CERTIFICATE"
