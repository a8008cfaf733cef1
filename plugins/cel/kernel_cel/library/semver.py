"""kube's semver library at version 1 (library/semverlib.go, in kube's base environment since
1.33): ``semver(s)``, ``semver(s, normalize)``, ``isSemver``, ``major``/``minor``/``patch`` and the
comparisons, on blang/semver's grammar. A Semver is stored without its build metadata, which
neither equality nor ordering looks at."""

from __future__ import annotations

import re
from typing import Any

from .. import opaque
from ..decls import fn, glob, member

S = "kubernetes.Semver"
_IDENT = re.compile(r"^[0-9A-Za-z-]+$")


def _number(text: str, which: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise ValueError(f'Invalid character(s) found in {which} number "{text}"')
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f'{which.capitalize()} number must not contain leading zeroes "{text}"')
    return int(text)


def parse(text: str) -> tuple[int, int, int, list[str]]:
    """(major, minor, patch, prerelease identifiers); ValueError with blang/semver's message."""
    if not text:
        raise ValueError("Version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise ValueError("No Major.Minor.Patch elements found")
    major, minor = _number(parts[0], "major"), _number(parts[1], "minor")
    rest = parts[2]
    cut = min([i for i in (rest.find("-"), rest.find("+")) if i >= 0], default=len(rest))
    patch, suffix = _number(rest[:cut], "patch"), rest[cut:]
    build_at = suffix.find("+")
    pre, build = (suffix[:build_at], suffix[build_at + 1:]) if build_at >= 0 else (suffix, None)
    identifiers = pre[1:].split(".") if pre.startswith("-") else []
    for identifier in identifiers:
        if not identifier:
            raise ValueError("Prerelease is empty")
        if not _IDENT.match(identifier):
            raise ValueError(f'Invalid character(s) found in prerelease "{identifier}"')
        if identifier.isdigit() and len(identifier) > 1 and identifier[0] == "0":
            raise ValueError(f'Prerelease number must not contain leading zeroes "{identifier}"')
    for identifier in (build.split(".") if build is not None else []):
        if not identifier or not _IDENT.match(identifier):
            raise ValueError(f'Invalid character(s) found in build meta data "{identifier}"')
    return major, minor, patch, identifiers


def normalize(text: str) -> str:
    """kube's normalizeAndParse: no ``v`` prefix, no leading zeros, missing minor/patch are 0."""
    parts = (text[1:] if text.startswith("v") else text).split(".", 2)
    for index, part in enumerate(parts):
        if len(part) > 1:
            stripped = part.lstrip("0")
            parts[index] = stripped if stripped[:1].isdigit() else "0" + stripped
    if len(parts) < 3:
        if any(c in parts[-1] for c in "+-"):
            raise ValueError("short version cannot contain PreRelease/Build meta data")
        parts += ["0"] * (3 - len(parts))
    return ".".join(parts)


def _make(text: str, normalized: bool = False) -> Any:
    major, minor, patch, pre = parse(normalize(text) if normalized else text)
    return opaque.new(S, value=f"{major}.{minor}.{patch}" + ("-" + ".".join(pre) if pre else ""))


def _valid(text: str, normalized: bool = False) -> bool:
    try:
        _make(text, normalized)
    except ValueError:
        return False
    return True


def _key(identifier: str) -> tuple[int, int | str]:
    return (0, int(identifier)) if identifier.isdigit() else (1, identifier)


def compare(a: Any, b: Any) -> int:
    """Semantic Versioning precedence (a release is above its prereleases)."""
    x, y = parse(a.value), parse(b.value)
    if x[:3] != y[:3]:
        return -1 if x[:3] < y[:3] else 1
    if not x[3] or not y[3]:
        return (len(y[3]) > 0) - (len(x[3]) > 0)
    left, right = [_key(i) for i in x[3]], [_key(i) for i in y[3]]
    return (left > right) - (left < right)


FUNCTIONS = [
    fn("semver", glob("string_to_semver", "string", S, _make),
       glob("string_bool_to_semver", "string, bool", S, _make)),
    fn("isSemver", glob("is_semver_string", "string", "bool", _valid),
       glob("is_semver_string_bool", "string, bool", "bool", _valid)),
    # the comparisons' implementations are quantity's: one per runtime shape (see decls)
    fn("isGreaterThan", member("semver_is_greater_than", f"{S}, {S}", "bool")),
    fn("isLessThan", member("semver_is_less_than", f"{S}, {S}", "bool")),
    fn("compareTo", member("semver_compare_to", f"{S}, {S}", "int")),
    fn("major", member("semver_major", S, "int", lambda v: parse(v.value)[0])),
    fn("minor", member("semver_minor", S, "int", lambda v: parse(v.value)[1])),
    fn("patch", member("semver_patch", S, "int", lambda v: parse(v.value)[2])),
]
