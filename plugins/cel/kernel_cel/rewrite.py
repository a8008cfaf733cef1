"""Source rewriting for kube functions that return optionals.

cel-expr-python cannot build an optional value in a Python function, and cel-cpp refuses a
second declaration of ``hasValue``/``value``/``orValue``. So ``<format>.validate(s)`` and
``format.named(n)`` return plain values (a list of errors, a Format message that is empty when
unknown) and the expression is rewritten to wrap each such call in
``optional.ofNonZeroValue(...)``: an empty list or empty message becomes ``optional.none()``,
exactly kube's results. The rewrite is textual but grammar-aware: a member call's receiver is
the postfix chain before it (identifiers, ``.``/``?.``, balanced ``()``/``[]``/``{}``, literals).
"""

from __future__ import annotations

import re

_TARGETS = re.compile(r"\.\s*validate\s*\(|\bformat\s*\.\s*named\s*\(")
_OPEN, _CLOSE = "([{", ")]}"
_WRAP = "optional.ofNonZeroValue"


def _strings(source: str) -> list[tuple[int, int]]:
    """Spans of string and bytes literals (so brackets inside them are ignored)."""
    spans, i = [], 0
    pattern = re.compile(r"""[rRbB]{0,2}('''|\"\"\"|'|")""")
    while i < len(source):
        match = pattern.match(source, i) if source[i] in "'\"rRbB" else None
        if match is None or (source[i] in "rRbB" and i > 0 and (source[i - 1].isalnum() or source[i - 1] == "_")):
            i += 1
            continue
        quote, j = match.group(1), match.end()
        while j < len(source) and not source.startswith(quote, j):
            j += 2 if source[j] == "\\" else 1
        spans.append((i, min(j + len(quote), len(source))))
        i = j + len(quote)
    return spans


def _in(spans: list[tuple[int, int]], index: int) -> tuple[int, int] | None:
    return next((span for span in spans if span[0] <= index < span[1]), None)


def _match_forward(source: str, start: int, spans: list[tuple[int, int]]) -> int:
    """Index just past the bracket group opening at ``start``."""
    depth, i = 0, start
    while i < len(source):
        span = _in(spans, i)
        if span:
            i = span[1]
            continue
        if source[i] in _OPEN:
            depth += 1
        elif source[i] in _CLOSE:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(source)


def _receiver_start(source: str, end: int, spans: list[tuple[int, int]]) -> int:
    """Start of the postfix chain ending just before ``end``."""
    i = end
    while i > 0:
        char = source[i - 1]
        span = _in(spans, i - 1)
        if span:
            i = span[0]
        elif char in _CLOSE:
            depth, j = 0, i - 1
            while j >= 0:
                inner = _in(spans, j)
                if inner:
                    j = inner[0] - 1
                    continue
                depth += {")": 1, "]": 1, "}": 1, "(": -1, "[": -1, "{": -1}.get(source[j], 0)
                if depth == 0:
                    break
                j -= 1
            i = max(j, 0)
        elif char.isalnum() or char in "_.?" or char.isspace():
            i -= 1
        else:
            break
    while i < end and source[i].isspace():
        i += 1
    return i


def wrap_optionals(source: str) -> str:
    """``source`` with kube's optional-returning calls wrapped (unchanged when there are none)."""
    if "validate" not in source and "named" not in source:
        return source
    while True:
        spans = _strings(source)
        for match in _TARGETS.finditer(source):
            if _in(spans, match.start()) or source[:match.start()].endswith(_WRAP + "("):
                continue
            close = _match_forward(source, match.end() - 1, spans)
            if match.group(0).startswith("."):
                start = _receiver_start(source, match.start(), spans)
            else:
                start = match.start()
            if source[max(0, start - len(_WRAP) - 1):start] == _WRAP + "(":
                continue
            source = f"{source[:start]}{_WRAP}({source[start:close]}){source[close:]}"
            break
        else:
            return source
