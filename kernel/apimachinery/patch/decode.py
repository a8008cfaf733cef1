"""Decoding patch bodies."""

from __future__ import annotations

from typing import Any

import msgspec

from .errors import bad_request


def decode_json(body: bytes | bytearray | memoryview | str) -> Any:
    """Decode a patch body; anything but one JSON value is kube's 400 "invalid JSON patch"."""
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):  # msgspec refuses ~1000 levels with RecursionError
        raise bad_request("invalid JSON patch") from None
