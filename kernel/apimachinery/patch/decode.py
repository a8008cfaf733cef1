"""Decoding patch bodies."""

from __future__ import annotations

from typing import Any

import msgspec

from .. import jsontext
from ..depth import exceeds, may_exceed
from ._values import too_deep
from .errors import bad_request


def decode_json(body: bytes | bytearray | memoryview | str) -> Any:
    """Decode a patch body; anything but one JSON value is kube's 400 "invalid JSON patch", and
    one nested past the server's depth limit is refused before any patch code walks it."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    try:
        value = msgspec.json.decode(raw)
    except RecursionError:  # ~1000 levels: what kube's decoder also refuses (past 10000)
        raise bad_request("invalid JSON patch") from None
    except msgspec.DecodeError as error:
        if str(error) == "Number out of range":
            raise bad_request("invalid JSON patch") from None
        # Go takes invalid UTF-8 and lone surrogate escapes (as U+FFFD); msgspec does not.
        try:
            value = jsontext.loads(raw)
        except (ValueError, RecursionError):
            raise bad_request("invalid JSON patch") from None
    if isinstance(value, (dict, list)) and may_exceed(raw) and exceeds(value):
        raise too_deep()
    return value
