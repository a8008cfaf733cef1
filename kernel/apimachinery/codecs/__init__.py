"""Request bodies in and response bodies out: JSON, YAML and kube protobuf, with kube's errors.

``decode_body`` turns any accepted body into the object's JSON dict; ``negotiate`` reads an Accept
header into a ``MediaType`` (JSON or YAML, possibly as a Table, PartialObjectMetadata(List) or
aggregated discovery); ``encode`` writes a response. Strict field validation (``fieldValidation``)
is served by ``find_duplicate_fields``/``duplicate_field_errors``, ``find_unknown_fields`` and
``strict_decoding_error``. Messages follow kube 1.32 (k8s.io/apiserver handlers and serializers).
"""

from .body import decode_body, decode_is_costly, parse_json, parse_yaml
from .media import (ALL_CONVERSIONS, DISCOVERY_CONVERSIONS, INPUT_MEDIA_TYPES, JSON,
                    OUTPUT_MEDIA_TYPES, PROTOBUF, STREAM_MEDIA_TYPES, TABLE_CONVERSIONS, YAML,
                    MediaType, encode, negotiate, not_acceptable, parse_media_type,
                    unsupported_media_type)
from .strict import (Schema, duplicate_field_errors, find_duplicate_fields, find_unknown_fields,
                     strict_decoding_error, unknown_field_errors)

__all__ = [
    "ALL_CONVERSIONS", "DISCOVERY_CONVERSIONS", "INPUT_MEDIA_TYPES", "JSON", "OUTPUT_MEDIA_TYPES",
    "PROTOBUF", "STREAM_MEDIA_TYPES", "TABLE_CONVERSIONS", "YAML", "MediaType", "Schema",
    "decode_body", "decode_is_costly", "duplicate_field_errors", "encode", "find_duplicate_fields",
    "find_unknown_fields", "negotiate", "not_acceptable", "parse_json", "parse_media_type",
    "parse_yaml", "strict_decoding_error", "unknown_field_errors", "unsupported_media_type",
]
