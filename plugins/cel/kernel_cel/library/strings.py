"""cel-go's strings extension at version 2, which kube's base environment has (ext.Strings).

cel-expr-python ships cel-cpp's strings extension, but it cannot be combined with kube's lists
library (both declare ``indexOf``; cel-cpp refuses a function declared twice), so the functions
are implemented here on code points, as cel-go does."""

from __future__ import annotations

import math
from typing import Any

from ..decls import fn, glob, member


def _range_error(index: int) -> ValueError:
    return ValueError(f"index out of range: {index}")


def _char_at(text: str, index: int) -> str:
    if index < 0 or index > len(text):
        raise _range_error(index)
    return text[index:index + 1]


def _index_of(text: str, sub: str, offset: int = 0) -> int:
    if offset < 0 or offset > len(text):
        raise _range_error(offset)
    return text.find(sub, offset)


def _last_index_of(text: str, sub: str, offset: int | None = None) -> int:
    if offset is None:
        return text.rfind(sub)
    if offset < 0 or offset >= max(len(text), 1) and not (offset == 0 and not text):
        raise _range_error(offset)
    return text.rfind(sub, 0, offset + len(sub))


def _substring(text: str, start: int, end: int | None = None) -> str:
    end = len(text) if end is None else end
    if start < 0 or start > len(text):
        raise _range_error(start)
    if end < 0 or end > len(text):
        raise _range_error(end)
    if start > end:
        raise ValueError(f"invalid substring range. start: {start}, end: {end}")
    return text[start:end]


def _split(text: str, sep: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    if sep == "":
        chars = list(text)
        return chars if limit < 0 or limit >= len(chars) else [*chars[:limit - 1], "".join(chars[limit - 1:])]
    return text.split(sep) if limit < 0 else text.split(sep, limit - 1)


def _ascii(text: str, upper: bool) -> str:
    table = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return text.translate(table if upper else {v: k for k, v in table.items()})


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def _quote(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'


def as_string(value: Any) -> str:
    """cel-go's ``%s`` of a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, list):
        return "[" + ", ".join(as_string(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(((as_string(k), as_string(v)) for k, v in value.items()))
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    return str(value)


def _float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)[:-2] if repr(value).endswith(".0") else repr(value)


def _number(value: Any, verb: str, precision: int | None) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"error during formatting: fixed-point clause can only be used on doubles, was given {type(value).__name__}")
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return _float(value)
    digits = 6 if precision is None else precision
    return f"{float(value):.{digits}{'f' if verb == 'f' else 'e'}}"


def _integer(value: Any, verb: str) -> str:
    if isinstance(value, (str, bytes, bytearray)) and verb in "xX":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return raw.hex().upper() if verb == "X" else raw.hex()
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"error during formatting: integer clause can only be used on integers, was given {type(value).__name__}")
    spec = {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}[verb]
    return format(value, spec)


def _format(template: str, args: list[Any]) -> str:
    out, index, position = [], 0, 0
    while position < len(template):
        char = template[position]
        position += 1
        if char != "%":
            out.append(char)
            continue
        precision = None
        if position < len(template) and template[position] == ".":
            end = position + 1
            while end < len(template) and template[end].isdigit():
                end += 1
            precision, position = int(template[position + 1:end] or 0), end
        if position >= len(template):
            raise ValueError("error during formatting: unexpected end of format string")
        verb = template[position]
        position += 1
        if verb == "%":
            out.append("%")
            continue
        if index >= len(args):
            raise ValueError(f"index {index} out of range")
        value, index = args[index], index + 1
        if verb == "s":
            out.append(as_string(value))
        elif verb in "fe":
            out.append(_number(value, verb, precision))
        elif verb in "dboxX":
            out.append(_integer(value, verb))
        else:
            raise ValueError(f'could not parse formatting clause: unrecognized formatting clause "{verb}"')
    return "".join(out)


_S = "string"
FUNCTIONS = [
    fn("charAt", member("string_char_at_int", f"{_S}, int", _S, _char_at)),
    fn("indexOf", member("string_index_of_string", f"{_S}, {_S}", "int", _index_of),
       member("string_index_of_string_int", f"{_S}, {_S}, int", "int", _index_of)),
    fn("lastIndexOf", member("string_last_index_of_string", f"{_S}, {_S}", "int", _last_index_of),
       member("string_last_index_of_string_int", f"{_S}, {_S}, int", "int", _last_index_of)),
    fn("lowerAscii", member("string_lower_ascii", _S, _S, lambda s: _ascii(s, False))),
    fn("upperAscii", member("string_upper_ascii", _S, _S, lambda s: _ascii(s, True))),
    fn("replace", member("string_replace_string_string", f"{_S}, {_S}, {_S}", _S, lambda s, a, b: s.replace(a, b)),
       member("string_replace_string_string_int", f"{_S}, {_S}, {_S}, int", _S,
              lambda s, a, b, n: s.replace(a, b) if n < 0 else s.replace(a, b, n))),
    fn("split", member("string_split_string", f"{_S}, {_S}", "list(string)", _split),
       member("string_split_string_int", f"{_S}, {_S}, int", "list(string)", _split)),
    fn("substring", member("string_substring_int", f"{_S}, int", _S, _substring),
       member("string_substring_int_int", f"{_S}, int, int", _S, _substring)),
    fn("trim", member("string_trim", _S, _S, lambda s: s.strip())),
    fn("join", member("list_join", "list(string)", _S, lambda items: "".join(items)),
       member("list_join_string", f"list(string), {_S}", _S, lambda items, sep: sep.join(items))),
    fn("strings.quote", glob("strings_quote", _S, _S, _quote)),
    fn("format", member("string_format_list", f"{_S}, list(dyn)", _S, _format)),
]
