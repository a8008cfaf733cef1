"""Field errors, name/label rules and ObjectMeta validation with kube's exact messages.

Mirrors k8s.io/apimachinery util/validation, api/validate/content, api/validation and
util/validation/field. Bad values are rendered the way Go prints them (``%q``, ``%#v``)
because clients and conformance tests compare the message text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from kernel.apimachinery.status import StatusError

# --- Go value rendering -----------------------------------------------------------------

_GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t",
               "\v": r"\v", '"': r"\"", "\\": r"\\"}


class GoLiteral(str):
    """A value already rendered as Go would print it (e.g. ``[]string(nil)``)."""


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote`` / ``%q``."""
    out = []
    for ch in s:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif (cp := ord(ch)) < 0x80:
            out.append(f"\\x{cp:02x}")
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    return '"' + "".join(out) + '"'


def go_value(value: Any) -> str:
    """How field.Error prints a bad value: simple types with %v, strings %q, the rest %#v."""
    if isinstance(value, GoLiteral):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{go_quote(str(k))}:{go_quote(str(v))}" for k, v in sorted(value.items()))
        return "map[string]string{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "[]string{" + ", ".join(go_quote(str(v)) for v in value) + "}"
    return repr(value)


def go_time(value: Any) -> str:
    """metav1.Time as Go's Time.String() prints it (UTC); anything unparsable is quoted."""
    if not value:
        return "0001-01-01 00:00:00 +0000 UTC"
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return go_quote(str(value))
    return t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


# --- field.Error ------------------------------------------------------------------------

NOT_FOUND = "FieldValueNotFound"
REQUIRED = "FieldValueRequired"
DUPLICATE = "FieldValueDuplicate"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
INTERNAL = "InternalError"

_TYPE_TEXT = {NOT_FOUND: "Not found", REQUIRED: "Required value", DUPLICATE: "Duplicate value",
              INVALID: "Invalid value", NOT_SUPPORTED: "Unsupported value", FORBIDDEN: "Forbidden",
              TOO_LONG: "Too long", TOO_MANY: "Too many", INTERNAL: "Internal error"}
# These types never print their bad value (field.Error.ErrorBody).
_VALUELESS = {REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL}
_OMIT = object()
#: A bad value field.Error does not print (kube's field.OmitValueType{}).
OMIT_VALUE = _OMIT


class FieldError(msgspec.Struct, frozen=True):
    """One field-level validation failure (kube's field.Error)."""

    type: str
    field: str
    bad_value: Any = None
    detail: str = ""

    def body(self) -> str:
        """The message without the field path (field.Error.ErrorBody; a StatusCause message)."""
        text = _TYPE_TEXT[self.type]
        if self.type not in _VALUELESS and self.bad_value is not _OMIT:
            text = f"{text}: {go_value(self.bad_value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        cause = {"reason": self.type, "message": self.body()}
        if self.field:
            cause["field"] = self.field
        return cause

    @classmethod
    def not_found(cls, field: str, value: Any) -> FieldError:
        return cls(NOT_FOUND, field, value)

    @classmethod
    def required(cls, field: str, detail: str = "") -> FieldError:
        return cls(REQUIRED, field, "", detail)

    @classmethod
    def duplicate(cls, field: str, value: Any) -> FieldError:
        return cls(DUPLICATE, field, value)

    @classmethod
    def invalid(cls, field: str, value: Any, detail: str) -> FieldError:
        return cls(INVALID, field, value, detail)

    @classmethod
    def not_supported(cls, field: str, value: Any, supported: Sequence[str] = ()) -> FieldError:
        detail = "supported values: " + ", ".join(go_quote(v) for v in supported) if supported else ""
        return cls(NOT_SUPPORTED, field, value, detail)

    @classmethod
    def forbidden(cls, field: str, detail: str) -> FieldError:
        return cls(FORBIDDEN, field, "", detail)

    @classmethod
    def too_long(cls, field: str, value: Any, max_length: int) -> FieldError:
        return cls(TOO_LONG, field, value, f"must have at most {max_length} bytes")

    @classmethod
    def too_many(cls, field: str, actual: int | None, max_items: int) -> FieldError:
        detail = f"must have at most {max_items} items" if max_items >= 0 else "has too many items"
        return cls(TOO_MANY, field, _OMIT if actual is None or actual < 0 else actual, detail)

    @classmethod
    def internal(cls, field: str, detail: str) -> FieldError:
        return cls(INTERNAL, field, None, detail)


def aggregate_message(errors: Iterable[object]) -> str:
    """utilerrors.Aggregate over ErrorList.ToAggregate: duplicates dropped, >1 shown as [a, b]."""
    messages = list(dict.fromkeys(str(e) for e in errors))
    if len(messages) == 1:
        return messages[0]
    return "[" + ", ".join(messages) + "]" if messages else ""


def invalid(kind: str, name: str, errors: Sequence[FieldError], group: str = "") -> StatusError:
    """The 422 Invalid Status (apierrors.NewInvalid)."""
    qualified = f"{kind}.{group}" if group else kind
    aggregated = aggregate_message(errors)
    message = f"{qualified} {go_quote(name)} is invalid" + (f": {aggregated}" if aggregated else "")
    details: dict[str, Any] = {k: v for k, v in (("name", name), ("group", group), ("kind", kind)) if v}
    if errors:
        details["causes"] = [e.cause() for e in errors]
    return StatusError(422, "Invalid", message, details)


# --- string formats (util/validation, api/validate/content) -----------------------------

def regex_error(msg: str, fmt: str, *examples: str) -> str:
    # Each example keeps its trailing ", " before " or ", hence kube's double spaces.
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    return msg + " (e.g. " + " or ".join(f"'{e}', " for e in examples) + f"regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _max_bytes_error(length: int) -> str:
    # The newer content package (label keys/values) counts bytes and says so.
    return f"must be no more than {length} bytes"


def _blen(s: str) -> int:
    return len(s.encode())  # Go's len() is in bytes


DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + r"(\." + DNS1123_LABEL_FMT + ")*"
DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
_DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                      "or '-', and must start and end with an alphanumeric character")
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                          "characters, '-' or '.', and must start and end with an alphanumeric character")
_DNS1123_LABEL_RE = re.compile(DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(DNS1123_SUBDOMAIN_FMT)

LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + LABEL_KEY_FMT + ")?"
LABEL_MAX_LENGTH = 63
_LABEL_KEY_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                  "with an alphanumeric character")
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', "
                    "'_' or '.', and must start and end with an alphanumeric character")
_LABEL_KEY_RE = re.compile(LABEL_KEY_FMT)
_LABEL_VALUE_RE = re.compile(LABEL_VALUE_FMT)


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if _blen(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            errs.append("must not contain dots")  # a valid subdomain, so only the dots are wrong
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str, _max_len: Callable[[int], str] = max_len_error) -> list[str]:
    errs = []
    if _blen(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(_max_len(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """A label key: optional DNS-subdomain prefix and '/', then a 63-byte name part."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix, _max_bytes_error)]
    else:
        return ["a valid label key " + regex_error(_LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif _blen(name) > LABEL_MAX_LENGTH:
        errs.append("name part " + _max_bytes_error(LABEL_MAX_LENGTH))
    if not _LABEL_KEY_RE.fullmatch(name):
        errs.append("name part " + regex_error(_LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_label_value(value: str) -> list[str]:
    errs = []
    if _blen(value) > LABEL_MAX_LENGTH:
        errs.append(_max_bytes_error(LABEL_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


# --- name validators: (name, prefix) -> messages, as kube's ValidateNameFunc -------------

NameValidator = Callable[[str, bool], list[str]]


def mask_trailing_dash(name: str) -> str:
    # kube drops the last two characters and appends 'a' (not a typo: name[:len-2] + "a").
    return name[:-2] + "a" if name.endswith("-") else name


def name_is_dns_subdomain(name: str, prefix: bool = False) -> list[str]:
    return is_dns1123_subdomain(mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool = False) -> list[str]:
    return is_dns1123_label(mask_trailing_dash(name) if prefix else name)


def validate_path_segment_name(name: str, prefix: bool = False) -> list[str]:
    """Names that only need to be safe as a URL path segment (e.g. RBAC roles)."""
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


validate_namespace_name = name_is_dns_label

# --- ObjectMeta ---------------------------------------------------------------------------

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
FIELD_IMMUTABLE = "field is immutable"
_ORPHAN, _FOREGROUND = "orphan", "foregroundDeletion"


def validate_labels(labels: Mapping[str, str] | None, path: str = "metadata.labels") -> list[FieldError]:
    errs = []
    for key, value in (labels or {}).items():
        errs += [FieldError.invalid(path, key, m) for m in is_qualified_name(key)]
        errs += [FieldError.invalid(path, value, m) for m in is_label_value(value)]
    return errs


def validate_annotations(annotations: Mapping[str, str] | None,
                         path: str = "metadata.annotations") -> list[FieldError]:
    annotations = annotations or {}
    # Annotation keys are qualified names with case ignored.
    errs = [FieldError.invalid(path, k, m) for k in annotations for m in is_qualified_name(k.lower())]
    if sum(_blen(k) + _blen(v) for k, v in annotations.items()) > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(FieldError.too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_finalizers(finalizers: Sequence[str] | None, path: str = "metadata.finalizers") -> list[FieldError]:
    finalizers = list(finalizers or [])
    errs = [FieldError.invalid(path, f, m) for f in finalizers for m in is_qualified_name(f)]
    if _ORPHAN in finalizers and _FOREGROUND in finalizers:
        errs.append(FieldError.invalid(path, finalizers,
                                       f"finalizer {_ORPHAN} and {_FOREGROUND} cannot be both set"))
    return errs


def validate_owner_references(refs: Sequence[Mapping[str, Any]] | None,
                              path: str = "metadata.ownerReferences") -> list[FieldError]:
    errs = []
    for ref in refs or []:
        api_version = ref.get("apiVersion") or ""
        parts = api_version.split("/")
        version = parts[-1] if len(parts) <= 2 else ""
        if not version:
            errs.append(FieldError.invalid(f"{path}.apiVersion", api_version, "version must not be empty"))
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                errs.append(FieldError.invalid(f"{path}.{key}", ref.get(key) or "", "must not be empty"))
    return errs


def validate_object_meta(meta: Mapping[str, Any], *, namespaced: bool,
                         name_validator: NameValidator = name_is_dns_subdomain,
                         is_create: bool = True, path: str = "metadata") -> list[FieldError]:
    """ValidateObjectMeta, in kube's order. Call it after the name was generated from
    generateName for kube's exact output; on create, an empty name with a generateName
    is taken as "still to be generated" and not reported as missing."""
    errs: list[FieldError] = []
    name, generate = meta.get("name") or "", meta.get("generateName") or ""
    if generate:
        errs += [FieldError.invalid(f"{path}.generateName", generate, m) for m in name_validator(generate, True)]
    if name:
        errs += [FieldError.invalid(f"{path}.name", name, m) for m in name_validator(name, False)]
    elif not (is_create and generate):
        errs.append(FieldError.required(f"{path}.name", "name or generateName is required"))

    namespace = meta.get("namespace") or ""
    if namespaced and not namespace:
        errs.append(FieldError.required(f"{path}.namespace"))
    elif namespaced:
        errs += [FieldError.invalid(f"{path}.namespace", namespace, m) for m in validate_namespace_name(namespace, False)]
    elif namespace:
        errs.append(FieldError.forbidden(f"{path}.namespace", "not allowed on this type"))

    generation = meta.get("generation") or 0
    if isinstance(generation, int) and generation < 0:
        errs.append(FieldError.invalid(f"{path}.generation", generation, "must be greater than or equal to 0"))
    errs += validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    errs += validate_owner_references(meta.get("ownerReferences"), f"{path}.ownerReferences")
    errs += validate_finalizers(meta.get("finalizers"), f"{path}.finalizers")
    return errs


def _same_time(a: Any, b: Any) -> bool:
    return go_time(a) == go_time(b) if (a or b) else True


def validate_object_meta_update(new: Mapping[str, Any], old: Mapping[str, Any],
                                path: str = "metadata") -> list[FieldError]:
    """ValidateObjectMetaUpdate. kube also runs the create rules on the new object
    (validate_object_meta) in each type's ValidateUpdate; callers do both."""
    errs: list[FieldError] = []
    if old.get("deletionTimestamp"):
        added = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if added:
            errs.append(FieldError.forbidden(
                f"{path}.finalizers", "no new finalizers can be added if the object is being deleted, "
                f"found new finalizers {go_value(added)}"))
    if not new.get("resourceVersion"):
        errs.append(FieldError.invalid(f"{path}.resourceVersion", new.get("resourceVersion") or "",
                                       "must be specified for an update"))
    if (new.get("generation") or 0) < (old.get("generation") or 0):
        errs.append(FieldError.invalid(f"{path}.generation", new.get("generation") or 0, "must not be decremented"))
    for key in ("name", "namespace", "uid"):
        if (new.get(key) or "") != (old.get(key) or ""):
            errs.append(FieldError.invalid(f"{path}.{key}", new.get(key) or "", FIELD_IMMUTABLE))
    if not _same_time(new.get("creationTimestamp"), old.get("creationTimestamp")):
        errs.append(FieldError.invalid(f"{path}.creationTimestamp",
                                       GoLiteral(go_time(new.get("creationTimestamp"))), FIELD_IMMUTABLE))
    if not _same_time(new.get("deletionTimestamp"), old.get("deletionTimestamp")):
        ts = new.get("deletionTimestamp")
        errs.append(FieldError.invalid(f"{path}.deletionTimestamp",
                                       GoLiteral(go_time(ts)) if ts else None, FIELD_IMMUTABLE))
    if new.get("deletionGracePeriodSeconds") != old.get("deletionGracePeriodSeconds"):
        errs.append(FieldError.invalid(f"{path}.deletionGracePeriodSeconds",
                                       new.get("deletionGracePeriodSeconds"), FIELD_IMMUTABLE))
    errs += validate_labels(new.get("labels"), f"{path}.labels")
    errs += validate_annotations(new.get("annotations"), f"{path}.annotations")
    errs += validate_owner_references(new.get("ownerReferences"), f"{path}.ownerReferences")
    return errs
