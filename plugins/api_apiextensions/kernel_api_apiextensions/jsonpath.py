"""The JSONPath subset CRDs use in additionalPrinterColumns and selectableFields (client-go's
util/jsonpath): ``.a.b``, ``.a[0]``, ``.a[*].b``, ``.a['k.e.y']`` and filters such as
``.status.conditions[?(@.type=="Ready")].status``, with or without surrounding braces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kernel.apimachinery.lazyre import lazy_compile

_TOKEN = lazy_compile(
    r"""\.(?P<field>[A-Za-z0-9_\-$]+)"""
    r"""|\[(?P<index>-?\d+|\*)\]"""
    r"""|\[['"](?P<quoted>[^'"]+)['"]\]"""
    r"""|\[\?\(@\.(?P<fpath>[A-Za-z0-9_.\-]+)\s*(?P<op>==|!=)\s*(?P<fvalue>"[^"]*"|'[^']*'|[^)\s]+)\)\]"""
    r"""|\.\*(?P<star>)""")


class JSONPathError(ValueError):
    """A path the subset cannot parse."""


Step = tuple[str, Any]


def parse(path: str) -> list[Step]:
    """The steps of ``path``; raises JSONPathError."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    if not text.startswith(".") and not text.startswith("["):
        raise JSONPathError(f"unrecognized path {path!r}: must start with '.'")
    steps: list[Step] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise JSONPathError(f"unrecognized character in path {path!r} at {position}")
        if match.group("field") is not None:
            steps.append(("field", match.group("field")))
        elif match.group("quoted") is not None:
            steps.append(("field", match.group("quoted")))
        elif match.group("index") is not None:
            index = match.group("index")
            steps.append(("all", None) if index == "*" else ("index", int(index)))
        elif match.group("fpath") is not None:
            value = match.group("fvalue").strip("'\"")
            steps.append(("filter", (match.group("fpath").split("."), match.group("op"), value)))
        else:
            steps.append(("all", None))
        position = match.end()
    return steps


def _lookup(value: Any, fields: list[str]) -> Any:
    for name in fields:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _step(values: Iterator[Any], step: Step) -> Iterator[Any]:
    kind, arg = step
    for value in values:
        if kind == "field" and isinstance(value, dict) and arg in value:
            yield value[arg]
        elif kind == "index" and isinstance(value, list) and -len(value) <= arg < len(value):
            yield value[arg]
        elif kind == "all":
            yield from (value.values() if isinstance(value, dict) else
                        value if isinstance(value, list) else ())
        elif kind == "filter" and isinstance(value, list):
            fields, op, wanted = arg
            for item in value:
                matched = _text(_lookup(item, fields)) == wanted
                if matched == (op == "=="):
                    yield item


def find(obj: Any, steps: list[Step]) -> list[Any]:
    """Every value ``steps`` reach in ``obj``."""
    values: Iterator[Any] = iter([obj])
    for step in steps:
        values = _step(values, step)
    return list(values)
