"""Rules ConfigMaps and Secrets share: key names, the 1 MiB limit, ``immutable``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from kernel.apimachinery.lazyre import lazy_compile
from kernel.apimachinery.validation import FieldError

#: core.MaxSecretSize, also the ConfigMap limit.
MAX_SIZE = 1 * 1024 * 1024
IMMUTABLE_MESSAGE = "field is immutable when `immutable` is set"

_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_MESSAGE = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_CONFIG_KEY_RE = lazy_compile(_CONFIG_KEY_FMT)
_DNS1123_SUBDOMAIN_MAX_LENGTH = 253


def is_config_map_key(value: str) -> list[str]:
    """validation.IsConfigMapKey: a key of ConfigMap data/binaryData or Secret data."""
    errs = []
    if len(value.encode()) > _DNS1123_SUBDOMAIN_MAX_LENGTH:  # Go's len() counts bytes
        errs.append(f"must be no more than {_DNS1123_SUBDOMAIN_MAX_LENGTH} characters")
    if not _CONFIG_KEY_RE.fullmatch(value):
        errs.append(f"{_CONFIG_KEY_MESSAGE} (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
                    f"regex used for validation is '{_CONFIG_KEY_FMT}')")
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def key_errors(data: Mapping[str, Any] | None, path: str) -> list[FieldError]:
    """One Invalid error per message per bad key, on ``<path>[<key>]`` as field.Path.Key prints it."""
    return [FieldError.invalid(f"{path}[{key}]", key, message)
            for key in (data or {}) for message in is_config_map_key(key)]


def decoded(value: Any) -> bytes:
    """A base64 ``[]byte`` value as bytes; the decoder has already rejected bad base64."""
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        return value.encode()


def text_size(data: Mapping[str, Any] | None) -> int:
    return sum(len(v.encode()) for v in (data or {}).values() if isinstance(v, str))


def bytes_size(data: Mapping[str, Any] | None) -> int:
    return sum(len(decoded(v)) for v in (data or {}).values())


def is_immutable(obj: Mapping[str, Any]) -> bool:
    return obj.get("immutable") is True


def same_bytes(new: Mapping[str, Any] | None, old: Mapping[str, Any] | None) -> bool:
    """Equal []byte maps: compared decoded, so re-encoding the same bytes is no change."""
    new, old = new or {}, old or {}
    return new.keys() == old.keys() and all(decoded(new[k]) == decoded(old[k]) for k in new)


def immutable_errors(new: Mapping[str, Any], old: Mapping[str, Any],
                     fields: Mapping[str, bool]) -> list[FieldError]:
    """ValidateConfigMapUpdate / ValidateSecretUpdate for an object whose old version is immutable.

    ``fields`` maps each data field to whether its values are base64 bytes. A missing map and an
    empty one count as the same data (kube stores and returns both as absent).
    """
    if not is_immutable(old):
        return []
    errs = []
    if not is_immutable(new):
        errs.append(FieldError.forbidden("immutable", IMMUTABLE_MESSAGE))
    for name, binary in fields.items():
        a, b = new.get(name) or {}, old.get(name) or {}
        if not (same_bytes(a, b) if binary else a == b):
            errs.append(FieldError.forbidden(name, IMMUTABLE_MESSAGE))
    return errs
