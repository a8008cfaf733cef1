"""kube's escaping of property names into CEL identifiers (k8s.io/apiserver/pkg/cel/escaping.go)."""

from __future__ import annotations

import re

RESERVED = frozenset({
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
    "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"})
_SIMPLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SUPPORTED = re.compile(r"^[A-Za-z_.\-/][A-Za-z0-9_.\-/]*$")
_EXPAND = re.compile(r"__|[-./]")
_WORDS = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}


def escape(name: str) -> str | None:
    """The CEL identifier for property ``name``; None when it cannot be accessed from CEL."""
    if not name or name[0].isdigit():
        return None
    if name in RESERVED:
        return f"__{name}__"
    if _SIMPLE.match(name) and "__" not in name:
        return name
    if not _SUPPORTED.match(name):
        return None
    return _EXPAND.sub(lambda m: _WORDS[m.group(0)], name)
