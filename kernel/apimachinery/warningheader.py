"""``Warning`` response headers as kube-apiserver writes them (its warning recorder filter and
apimachinery's net.NewWarningHeader).

A warning's text can carry what a client sent (an unknown field's name), so it is never written
raw: a text with a control character (Unicode Cc, CR and LF among them) or a lone surrogate is
dropped, as kube drops it, so no header can be split or refused by the HTTP/1.1 or HTTP/2 layer
after the write was saved. Repeated texts are sent once; past 4096 characters in all, every text
is cut to 256 characters and the rest are dropped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

TOTAL_LIMIT = 4 * 1024  # truncateAtTotalRunes
ITEM_LIMIT = 256  # truncateItemRunes
CODE_AGENT = "299 -"  # "miscellaneous persistent warning", no agent


def _valid(text: str) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Cs") for c in text)


def _header(text: str) -> tuple[bytes, bytes]:
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')  # makeQuotedString
    return b"warning", f'{CODE_AGENT} "{quoted}"'.encode()


def warning_headers(texts: Iterable[str] | None) -> list[tuple[bytes, bytes]]:
    """The Warning headers for ``texts``, in order, as kube's recorder would add them."""
    seen: set[str] = set()
    kept: list[str] = []  # valid texts added so far, whole, for a replay
    headers: list[tuple[bytes, bytes]] = []
    written, truncating = 0, False
    for text in texts or ():
        if not text or text in seen or (truncating and written >= TOTAL_LIMIT):
            continue
        seen.add(text)
        if not _valid(text):
            continue
        kept.append(text)
        if truncating:
            text = text[:ITEM_LIMIT]
        if written + len(text) <= TOTAL_LIMIT or truncating:
            written += len(text)
            headers.append(_header(text))
            continue
        # Over the total: start again with every warning so far cut to the item limit.
        truncating, written, headers = True, 0, []
        for earlier in kept:
            earlier = earlier[:ITEM_LIMIT]
            written += len(earlier)
            headers.append(_header(earlier))
    return headers
