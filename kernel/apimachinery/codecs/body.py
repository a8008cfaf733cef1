"""Request bodies: JSON, YAML or kube protobuf into the object's dict, with kube's errors."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from .. import jsontext, protobuf
from ..depth import exceeds, may_exceed, too_deep_message
from ..status import StatusError, bad_request
from .media import (JSON, OUTPUT_MEDIA_TYPES, PROTOBUF, YAML, parse_media_type,
                    unsupported_media_type)

# The Go type kube's JSON serializer first unmarshals into, to find apiVersion and kind: its
# errors quote it, so ours do.
_FIND_KIND = ('struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
              'Kind string "json:\\"kind,omitempty\\"" }')
_JSON_KINDS = {list: "array", dict: "object", str: "string", bool: "bool", int: "number",
               float: "number"}
# Bodies at least this large are decoded in a worker thread, so one costly decode (a few MiB of
# JSON, or any YAML: PyYAML is ~100x slower than msgspec) never stalls the event loop.
OFF_LOOP_BYTES = 256 * 1024
# Protobuf messages nest around the raw JSON they carry (managedFields[].fieldsV1), unseen by the
# bracket count; no built-in kind nests its messages deeper than this.
_PROTOBUF_NESTING = 16


def decode_body(content_type: str | None, body: bytes, gvk: tuple[str, str] | None = None,
                kinds: protobuf.Kinds | None = None) -> dict[str, Any]:
    """Decode a request body into a dict, by its Content-Type (none at all means JSON).

    ``gvk`` is the endpoint's (apiVersion, kind): it fills a protobuf envelope's empty TypeMeta
    and makes error messages kube's (``... cannot be handled as a ConfigMap: ...``). ``kinds``
    are the protobuf schemas the endpoint's API group declared; any other kind is 415. Raises
    StatusError 415 for a content type (or protobuf kind) not accepted, 400 for a bad body.
    """
    try:
        media = parse_media_type(content_type)[0] if content_type else JSON
    except ValueError:
        raise unsupported_media_type() from None
    if media == PROTOBUF:
        try:
            obj = protobuf.decode(body, gvk, kinds)
        except protobuf.DecodeError as e:
            if e.code == 415:  # the client should send JSON or YAML; say what we lacked
                error = unsupported_media_type(OUTPUT_MEDIA_TYPES)
                error.details = {"causes": [{"message": e.detail}]}
                raise error from None
            raise _decode_failed(e.message, gvk, (e.api_version, e.kind), body) from None
        if may_exceed(body, _PROTOBUF_NESTING) and exceeds(obj):
            raise _decode_failed(too_deep_message(), gvk, (obj.get("apiVersion", ""), obj.get("kind", "")),
                                 body)
        return obj
    if media not in (JSON, YAML):
        raise unsupported_media_type()
    try:
        obj = parse_json(body) if media == JSON else parse_yaml(body)
    except StatusError as e:
        prefix = "couldn't get version/kind; json parse error: " if media == JSON else ""
        raise _decode_failed(prefix + e.message, gvk, None, body) from None
    if not isinstance(obj, dict):
        if obj is None:
            raise _decode_failed("Object 'Kind' is missing in 'null'", gvk, None, body)
        raise _decode_failed("couldn't get version/kind; json parse error: json: cannot unmarshal "
                             f"{_JSON_KINDS[type(obj)]} into Go value of type {_FIND_KIND}",
                             gvk, None, body)
    for key in ("apiVersion", "kind"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise _decode_failed(
                "couldn't get version/kind; json parse error: json: cannot unmarshal "
                f"{_JSON_KINDS[type(obj[key])]} into Go struct field .{key} of type string",
                gvk, None, body)
    return obj


def _decode_failed(message: str, gvk: tuple[str, str] | None, found: tuple[str, str] | None,
                   body: bytes) -> StatusError:
    """kube's transformDecodeError: name the endpoint's kind, and the body's if it had one."""
    if gvk is None:
        return bad_request(message)
    if found and found[1]:
        version = found[0].rpartition("/")[2]
        return bad_request(f'{found[1]} in version "{version}" cannot be handled as a {gvk[1]}: '
                           f"{message}")
    return bad_request(f"the object provided is unrecognized (must be of type {gvk[1]}): "
                       f"{message} ({_summarize(body)})")


def _summarize(body: bytes, limit: int = 30) -> str:
    if not body:
        return "<empty>"
    if body[:1] == b"{":
        text = body[:limit].decode("utf-8", "replace")
        return text + " ..." if len(body) > limit else text
    return body[:limit].hex() + (" ..." if len(body) > limit else "")


def decode_is_costly(content_type: str | None, body: bytes) -> bool:
    """Whether decoding ``body`` should run off the event loop: a large body, or YAML."""
    return len(body) >= OFF_LOOP_BYTES or "yaml" in (content_type or "").lower()


def parse_json(body: bytes) -> Any:
    """Parse JSON (any top-level value); StatusError 400 with Go's encoding/json wording, and for
    a value nested deeper than the server's limit (kernel.apimachinery.depth)."""
    try:
        value = msgspec.json.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        reason = str(e)
    except RecursionError:  # nesting past about 1000 levels; Go's limit is 10000
        raise bad_request(too_deep_message()) from None
    else:
        # Counting brackets costs little next to the decode; only a body with enough of them
        # is walked for its depth.
        if may_exceed(body) and exceeds(value):
            raise bad_request(too_deep_message())
        return value
    if reason == "Number out of range":
        raise bad_request("json: cannot unmarshal number into Go value of type float64")
    # Go takes invalid UTF-8 and lone surrogate escapes (as U+FFFD) that msgspec refuses; the
    # stdlib parser also places the error, to word it as Go does.
    try:
        value = jsontext.loads(body)
    except RecursionError:
        raise bad_request(too_deep_message()) from None
    except json.JSONDecodeError as e:
        raise bad_request(_go_json_error(e, e.doc)) from None
    except ValueError as e:
        raise bad_request(str(e)) from None
    if may_exceed(body) and exceeds(value):
        raise bad_request(too_deep_message())
    return value


def _go_json_error(e: json.JSONDecodeError, text: str) -> str:
    if not text[e.pos:].strip() or e.msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    at = e.pos + 1 if e.msg.startswith("Invalid \\") else e.pos
    char = _quote_char(text[at:at + 1] or " ")
    where = {
        "Expecting value": "looking for beginning of value",
        "Extra data": "after top-level value",
        "Expecting ':' delimiter": "after object key",
        "Expecting property name enclosed in double quotes":
            "looking for beginning of object key string",
        "Invalid control character at": "in string literal",
        "Invalid \\escape": "in string escape code",
        "Invalid \\uXXXX escape": "in \\u hexadecimal character escape",
    }.get(e.msg)
    if e.msg == "Expecting ',' delimiter":
        where = ("after object key:value pair" if _innermost(text, e.pos) == "{"
                 else "after array element")
    return f"invalid character {char} {where}" if where else e.msg


def _quote_char(c: str) -> str:
    if c == "'":
        return "'\\''"
    return f"'{c}'" if c.isprintable() else "'" + json.dumps(c)[1:-1] + "'"


def _innermost(text: str, end: int) -> str:
    """The innermost open bracket at text[end], skipping strings."""
    stack: list[str] = []
    in_string = escaped = False
    for c in text[:end]:
        if in_string:
            escaped = not escaped and c == "\\"
            in_string = escaped or c != '"'
        elif c == '"':
            in_string = True
        elif c in "{[":
            stack.append(c)
        elif c in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def parse_yaml(body: bytes) -> Any:
    """Parse the first YAML document into JSON-compatible values (kube reads only the first),
    refusing what kube's YAML decoder refuses and what nests past the server's depth limit."""
    # PyYAML (~2 MB of code and tables once imported) loads with the first YAML body
    from .yamlbody import parse

    return parse(body)
