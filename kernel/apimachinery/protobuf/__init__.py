"""Decoding of kube's protobuf request bodies (``application/vnd.kubernetes.protobuf``).

The body is the magic ``k8s\\x00`` followed by a ``runtime.Unknown``: {1 typeMeta {1 apiVersion,
2 kind}, 2 raw, 3 contentEncoding, 4 contentType}; ``raw`` is the object's own message. ``decode``
returns the object in its JSON form (a dict as kube's JSON encoding would show it) so the REST
layer handles every content type alike. No protobuf library is used: see ``wire`` and ``schema``.

The kernel holds only metav1's messages (``meta``) and this machinery. A kind's own schema is
declared by the API group plugin that serves it (``ResourceSpec.protobuf``) and handed in as
``kinds``: there is no process-wide registry, so two servers in one process never share one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .schema import Message, decode_message
from .wire import LEN, DecodeError, fields

__all__ = ["MAGIC", "PROTOBUF", "DecodeError", "Kinds", "Message", "decode", "decode_object"]

#: The kinds a decode may read, by (apiVersion, kind): those the endpoint's API group declared.
Kinds = Mapping[tuple[str, str], Message]

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"
# kube's 415 text; without protobuf in the list, as the client should resend in one of these.
UNSUPPORTED_KIND = ("the body of the request was in an unknown format - accepted media types "
                    "include: application/json, application/yaml")


def decode(envelope: bytes, default: tuple[str, str] | None = None,
           kinds: Kinds | None = None) -> dict[str, Any]:
    """Decode a whole protobuf body into the object's JSON dict, with apiVersion and kind set.

    ``kinds`` are the schemas this body may be read as (none: every kind is refused).
    ``default`` is the endpoint's (apiVersion, kind), used, as kube does, where the envelope's
    TypeMeta leaves them empty. Raises ``DecodeError``: code 400 for a malformed body, 415 for
    a kind (or a field of it) this server cannot read from protobuf.
    """
    if not envelope.startswith(MAGIC):
        raise DecodeError("provided data does not appear to be a protobuf message, "
                          "expected prefix [107 56 115 0]")
    sent = ["", ""]  # TypeMeta's apiVersion and kind
    raw = (0, 0)
    for number, wire_type, a, b in _envelope_fields(envelope, len(MAGIC), len(envelope), 4):
        if number == 1:
            for n, _, x, y in _envelope_fields(envelope, a, b, 2, "TypeMeta"):
                sent[n - 1] = envelope[x:y].decode("utf-8", "replace")
        elif number == 2:
            raw = (a, b)
    api_version = sent[0] or (default[0] if default else "")
    kind = sent[1] or (default[1] if default else "")
    if not kind or not api_version:
        # kube's runtime.NewMissingKindErr / NewMissingVersionErr, quoting the TypeMeta.
        missing = "Kind" if not kind else "apiVersion"
        quoted = f'runtime.TypeMeta{{APIVersion:"{sent[0]}", Kind:"{sent[1]}"}}'
        raise DecodeError(f"Object '{missing}' is missing in '{quoted}'")
    return decode_object(envelope[raw[0]:raw[1]], api_version, kind, kinds)


_ENVELOPE_NAMES = {"Unknown": ("TypeMeta", "Raw", "ContentEncoding", "ContentType"),
                   "TypeMeta": ("APIVersion", "Kind")}


def _envelope_fields(buf: bytes, start: int, end: int, count: int,
                     message: str = "Unknown") -> Iterator[tuple[int, int, int, int]]:
    """The envelope's fields 1..count, all length-delimited; others skipped, as Go does.

    Unlike object schemas, nothing here can lose data, so unknown fields need no refusal.
    """
    for number, wire_type, a, b in fields(buf, start, end, message):
        if number <= count:
            if wire_type != LEN:
                name = _ENVELOPE_NAMES[message][number - 1]
                raise DecodeError(f"proto: wrong wireType = {wire_type} for field {name}")
            yield number, wire_type, a, b


def decode_object(raw: bytes, api_version: str, kind: str,
                  kinds: Kinds | None = None) -> dict[str, Any]:
    """Decode an object's own message (the envelope's ``raw``) as the given kind, if in ``kinds``."""
    schema = (kinds or {}).get((api_version, kind))
    if schema is None:
        raise DecodeError(UNSUPPORTED_KIND, 415, api_version, kind,
                          detail=f"{kind} in {api_version} cannot be read from protobuf here")
    try:
        body = decode_message(schema, raw)
    except DecodeError as e:
        if e.code == 415:  # a set field we do not model: the same guidance as for an unknown kind
            raise DecodeError(UNSUPPORTED_KIND, 415, api_version, kind, detail=e.message) from None
        e.api_version, e.kind = api_version, kind
        raise
    return {"kind": kind, "apiVersion": api_version, **body}
