"""The one nesting limit for everything a client sends: JSON, YAML and protobuf bodies and patches.

kube's decoders stop at 10000 levels, which Go's growable stacks can afford. Python's cannot: the
server walks stored objects recursively (copy.deepcopy, the YAML and JSON encoders, strategic
merge, field validation), and a ~350-level object already broke YAML output. So a body or patch
nested deeper than MAX_DEPTH is refused when it is decoded, and nothing deeper is ever stored.

Why 100: real objects are far shallower. A CRD embedding a pod template (its schema repeats
``properties``/``items`` at every level) is about 25 levels deep; the deepest CRDs seen in the
wild (workflow engines nesting templates in templates) stay under 60, and an object's
``managedFields[].fieldsV1`` is as deep as the object plus 3. 100 leaves that margin while every
recursive walk stays far below Python's ~1000-frame limit, whatever stack the request runs on.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 100


def too_deep_message() -> str:
    return f"exceeded max depth of {MAX_DEPTH}"


def may_exceed(body: bytes, margin: int = 0) -> bool:
    """Cheap test (two C-speed byte counts) that a JSON text *could* nest past MAX_DEPTH: it
    cannot without at least that many opening brackets. ``margin`` allows for nesting the text
    does not show (protobuf messages around raw JSON)."""
    return body.count(b"{") + body.count(b"[") + margin > MAX_DEPTH


def json_depth(value: Any, limit: int | None = None) -> int:
    """Nesting depth of a JSON value (a scalar is 0, ``{}`` is 1), without recursion. With
    ``limit``, stops at the first container deeper than it and returns that depth."""
    depth = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > depth:
            depth = level
            if limit is not None and depth > limit:
                return depth
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return depth


def exceeds(value: Any) -> bool:
    return json_depth(value, MAX_DEPTH) > MAX_DEPTH
