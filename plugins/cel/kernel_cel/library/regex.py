"""kube's regex library (library/regex.go): ``find``, ``findAll`` (RE2 syntax; Python's ``re`` runs it)."""

from __future__ import annotations

import functools
import re

from ..decls import fn, member


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ValueError(f"Illegal regex: {error}") from None


def _find(text: str, pattern: str) -> str:
    match = _compiled(pattern).search(text)
    return match.group(0) if match else ""


def _find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    found = []
    for match in _compiled(pattern).finditer(text):
        found.append(match.group(0))
        if len(found) == limit:
            break
    return found


FUNCTIONS = [
    fn("find", member("string_find_string", "string, string", "string", _find)),
    fn("findAll", member("string_find_all_string", "string, string", "list(string)", _find_all),
       member("string_find_all_string_int", "string, string, int", "list(string)", _find_all)),
]
