"""Media types accepted and written, kube's 406/415 errors, Accept negotiation, encoding."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import msgspec

from .. import protobuf
from ..status import StatusError

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = protobuf.PROTOBUF
INPUT_MEDIA_TYPES = (JSON, YAML, PROTOBUF)
# What this server writes; kube would list protobuf too, but we never encode it.
OUTPUT_MEDIA_TYPES = (JSON, YAML)
STREAM_MEDIA_TYPES = (JSON + ";stream=watch",)


def unsupported_media_type(accepted: Collection[str] = INPUT_MEDIA_TYPES) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                       f"format - accepted media types include: {', '.join(accepted)}")


def not_acceptable(accepted: Collection[str] = OUTPUT_MEDIA_TYPES) -> StatusError:
    return StatusError(406, "NotAcceptable",
                       f"only the following media types are accepted: {', '.join(accepted)}")


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype; k=v; ...`` → (lower-cased type, params); ValueError when malformed."""
    head, *rest = value.split(";")
    media = head.strip().lower()
    main, _, sub = media.partition("/")
    if not main or not sub or any(c in media for c in ' \t"(),:<>?@[\\]{}='):
        raise ValueError(f"malformed media type {value!r}")
    params: dict[str, str] = {}
    for part in rest:
        key, eq, val = part.partition("=")
        key = key.strip().lower()
        if not key and not val.strip():
            continue  # a stray ';'
        if not key or not eq:
            raise ValueError(f"malformed media type parameter {part!r}")
        params[key] = val.strip().strip('"')
    return media, params


class MediaType(msgspec.Struct, frozen=True):
    """A negotiated response format: JSON or YAML, maybe converted to another kind.

    ``kind``/``group``/``version`` name the conversion asked for with ``as``/``g``/``v``
    (``Table``, ``PartialObjectMetadata``, ``PartialObjectMetadataList`` in meta.k8s.io,
    ``APIGroupDiscoveryList`` in apidiscovery.k8s.io); empty for the object itself.
    """
    type: str = JSON
    kind: str = ""
    group: str = ""
    version: str = ""
    stream: str = ""  # "watch" when a watch stream was asked for
    pretty: bool = False

    @property
    def is_table(self) -> bool:
        return self.kind == "Table"

    @property
    def is_partial_metadata(self) -> bool:
        return self.kind in ("PartialObjectMetadata", "PartialObjectMetadataList")

    @property
    def content_type(self) -> str:
        """The response's Content-Type, parameters in the order kube writes them."""
        if not self.kind:
            return self.type
        if self.group == "apidiscovery.k8s.io":  # kubectl matches this one exactly
            return f"{self.type};g={self.group};v={self.version};as={self.kind}"
        return f"{self.type};as={self.kind};v={self.version};g={self.group}"


TABLE_CONVERSIONS = frozenset(
    ("meta.k8s.io", version, kind) for version in ("v1", "v1beta1")
    for kind in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"))
DISCOVERY_CONVERSIONS = frozenset(
    ("apidiscovery.k8s.io", version, "APIGroupDiscoveryList") for version in ("v2", "v2beta1"))
ALL_CONVERSIONS = TABLE_CONVERSIONS | DISCOVERY_CONVERSIONS


# Clients send the same few Accept headers on every request: negotiation is remembered per
# (Accept, conversions, stream). Bounded, as the header is the client's to choose.
_NEGOTIATED: dict[tuple[str, Collection[tuple[str, str, str]], bool], MediaType] = {}
_NEGOTIATED_MAX = 256


def negotiate(accept: str | None, *,
              conversions: Collection[tuple[str, str, str]] = ALL_CONVERSIONS,
              stream: bool = False) -> MediaType:
    """:func:`negotiate_uncached`, remembered for hashable ``conversions`` (406s are not)."""
    if accept is None:
        return MediaType(stream="watch" if stream else "")
    try:
        key = (accept, conversions, stream)
        found = _NEGOTIATED.get(key)
    except TypeError:  # unhashable conversions (a list)
        return negotiate_uncached(accept, conversions=conversions, stream=stream)
    if found is None:
        found = negotiate_uncached(accept, conversions=conversions, stream=stream)
        if len(_NEGOTIATED) >= _NEGOTIATED_MAX:
            _NEGOTIATED.clear()
        _NEGOTIATED[key] = found
    return found


def negotiate_uncached(accept: str | None, *,
                       conversions: Collection[tuple[str, str, str]] = ALL_CONVERSIONS,
                       stream: bool = False) -> MediaType:
    """The response format for an Accept header, as kube's NegotiateOutputMediaType picks it.

    Clauses are tried by descending q (more specific first on ties, else in order); the first
    whose type this server writes and whose parameters it honours wins: an ``as``/``g``/``v``
    conversion must be one of ``conversions`` (resource endpoints pass TABLE_CONVERSIONS,
    discovery endpoints DISCOVERY_CONVERSIONS). No Accept, or ``*/*``, is JSON. With ``stream``
    (a watch) the format must support streaming, which only JSON does here. Raises StatusError
    406 when nothing fits.
    """
    if not accept or not accept.strip():
        return MediaType(stream="watch" if stream else "")
    for media, params in _accept_clauses(accept):
        main, _, sub = media.partition("/")
        for candidate in OUTPUT_MEDIA_TYPES:
            c_main, _, c_sub = candidate.partition("/")
            if main not in ("*", c_main) or sub not in ("*", c_sub) or (main == "*" != sub):
                continue
            chosen = _with_params(candidate, params, conversions)
            if chosen is not None:
                if not stream:
                    return chosen
                if chosen.type != JSON:  # kube has no YAML stream serializer either
                    raise not_acceptable(STREAM_MEDIA_TYPES)
                return msgspec.structs.replace(chosen, stream="watch")
    raise not_acceptable(STREAM_MEDIA_TYPES if stream else OUTPUT_MEDIA_TYPES)


def _accept_clauses(accept: str) -> list[tuple[str, dict[str, str]]]:
    clauses: list[tuple[float, int, int, str, dict[str, str]]] = []
    for index, part in enumerate(accept.split(",")):
        if not part.strip():
            continue
        head, *rest = part.split(";")
        media = head.strip().lower()
        if media == "*":
            media = "*/*"
        if "/" not in media:
            continue
        params: dict[str, str] = {}
        for item in rest:
            key, _, value = item.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 0.0
        if q <= 0 or math.isnan(q):
            continue  # q=0: explicitly not acceptable
        wildcards = media.count("*")
        clauses.append((-q, wildcards, index, media, params))
    clauses.sort()
    return [(media, params) for _, _, _, media, params in clauses]


def _with_params(media: str, params: dict[str, str],
                 conversions: Collection[tuple[str, str, str]]) -> MediaType | None:
    """kube's acceptMediaTypeOptions: None when a parameter cannot be honoured."""
    kind, group, version = params.get("as", ""), params.get("g", ""), params.get("v", "")
    converts = "as" in params or "g" in params or "v" in params
    if converts and (group, version, kind) not in conversions:
        return None
    stream = params.get("stream", "")
    if stream and (stream != "watch" or media != JSON):
        return None
    if params.get("sv"):  # a server-version conversion kube never allows either
        return None
    return MediaType(media, kind, group, version, stream, params.get("pretty") == "1")


def encode(obj: Any, media_type: MediaType | str = JSON, *, pretty: bool = False) -> bytes:
    """Serialize a response object. JSON ends with a newline, as kube's encoder writes it; YAML
    has sorted keys and block style, like kube's."""
    media = media_type.type if isinstance(media_type, MediaType) else media_type
    pretty = pretty or (isinstance(media_type, MediaType) and media_type.pretty)
    if media == JSON:
        data = msgspec.json.encode(obj)
        return (msgspec.json.format(data, indent=2) if pretty else data) + b"\n"
    if media == YAML:
        from .yamlbody import dump  # PyYAML loads with the first YAML response

        return dump(msgspec.to_builtins(obj))
    raise not_acceptable()
