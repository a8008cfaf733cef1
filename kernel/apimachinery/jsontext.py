"""JSON text as Go's encoding/json reads it, for what msgspec refuses but kube accepts.

Go replaces invalid UTF-8 bytes and lone UTF-16 surrogate escapes (``"\\ud800"``) with U+FFFD;
msgspec refuses both. The stdlib parser takes them, but leaves lone surrogates in the strings,
which no encoder (msgspec, the YAML dumper, ``str.encode``) can write afterwards: they are
replaced here, before anything is stored.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def loads(body: bytes) -> Any:
    """Parse with the stdlib (raises json.JSONDecodeError / ValueError / RecursionError); the
    non-JSON constants Python accepts (NaN, Infinity) are refused as Go refuses them."""
    text = body.decode("utf-8", "replace")
    return replace_surrogates(json.loads(text, parse_constant=_refuse_constant))


def _refuse_constant(name: str) -> None:
    if name.startswith("-"):
        raise ValueError("invalid character 'I' in numeric literal")
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def replace_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings and keys replaced by U+FFFD (a pair
    was already joined by the parser, so any left is lone). Iterative: depth is checked later."""
    if isinstance(value, str):
        return _fix(value)
    root = [value]
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in [k for k in node if _SURROGATE.search(k)]:
                node[_fix(key)] = node.pop(key)
            items: Any = node.items()
        else:
            items = enumerate(node)
        for key, item in list(items):
            if isinstance(item, str):
                if _SURROGATE.search(item):
                    node[key] = _fix(item)
            elif isinstance(item, (dict, list)):
                stack.append(item)
    return root[0]


def _fix(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)
