"""Field errors and name rules: the kernel's ``kernel.apimachinery.validation`` when it exists.

That module (kube's field.Error and util/validation) is written alongside this plugin. Until it is
in the kernel, this file carries a minimal stand-in with the same constructor, class methods and
rendering, so strategies return the same objects and messages either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

try:
    from kernel.apimachinery.validation import (  # type: ignore[import-not-found,unused-ignore]
        FieldError,
        is_dns1123_label,
        is_qualified_name,
    )
except ImportError:  # pragma: no cover - exercised until the kernel ships validation.py
    _TEXT = {"FieldValueRequired": "Required value", "FieldValueInvalid": "Invalid value",
             "FieldValueForbidden": "Forbidden", "FieldValueTooLong": "Too long"}
    # field.Error.ErrorBody never prints the bad value of these types.
    _VALUELESS = {"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong"}

    def _go_quote(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    @dataclass(frozen=True)
    class FieldError:  # type: ignore[no-redef]
        """kube's field.Error: type, field path, bad value, detail."""

        type: str
        field: str
        bad_value: Any = None
        detail: str = ""

        def body(self) -> str:
            text = _TEXT[self.type]
            if self.type not in _VALUELESS:
                value = self.bad_value
                text += ": " + (_go_quote(value) if isinstance(value, str) else
                                "null" if value is None else str(value))
            return f"{text}: {self.detail}" if self.detail else text

        def __str__(self) -> str:
            return f"{self.field}: {self.body()}"

        def cause(self) -> dict[str, str]:
            cause = {"reason": self.type, "message": self.body()}
            if self.field:
                cause["field"] = self.field
            return cause

        @classmethod
        def required(cls, field: str, detail: str = "") -> FieldError:
            return cls("FieldValueRequired", field, "", detail)

        @classmethod
        def invalid(cls, field: str, value: Any, detail: str) -> FieldError:
            return cls("FieldValueInvalid", field, value, detail)

        @classmethod
        def forbidden(cls, field: str, detail: str) -> FieldError:
            return cls("FieldValueForbidden", field, "", detail)

        @classmethod
        def too_long(cls, field: str, value: Any, max_length: int) -> FieldError:
            return cls("FieldValueTooLong", field, value, f"must have at most {max_length} bytes")

    def _regex_error(msg: str, fmt: str, *examples: str) -> str:
        return msg + " (e.g. " + " or ".join(f"'{e}', " for e in examples) + f"regex used for validation is '{fmt}')"

    _LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    _SUBDOMAIN = _LABEL + r"(\." + _LABEL + ")*"
    _NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

    def is_dns1123_label(value: str) -> list[str]:  # type: ignore[misc]
        errs = []
        if len(value.encode()) > 63:
            errs.append("must be no more than 63 characters")
        if not re.fullmatch(_LABEL, value):
            if re.fullmatch(_SUBDOMAIN, value):
                errs.append("must not contain dots")
            else:
                errs.append(_regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                    "and must start and end with an alphanumeric character", _LABEL, "my-name", "123-abc"))
        return errs

    def is_qualified_name(value: str) -> list[str]:  # type: ignore[misc]
        errs: list[str] = []
        parts = value.split("/")
        if len(parts) == 2:
            prefix, name = parts
            if not prefix:
                errs.append("prefix part must be non-empty")
            else:
                if len(prefix.encode()) > 253:
                    errs.append("prefix part must be no more than 253 bytes")
                if not re.fullmatch(_SUBDOMAIN, prefix):
                    errs.append("prefix part " + _regex_error(
                        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                        "'-' or '.', and must start and end with an alphanumeric character",
                        _SUBDOMAIN, "example.com"))
        elif len(parts) == 1:
            name = parts[0]
        else:
            return ["a valid label key " + _regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character", _NAME, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
        if not name:
            errs.append("name part must be non-empty")
        elif len(name.encode()) > 63:
            errs.append("name part must be no more than 63 bytes")
        if not re.fullmatch(_NAME, name):
            errs.append("name part " + _regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character", _NAME, "MyName", "my.name", "123-abc"))
        return errs

__all__ = ["FieldError", "is_dns1123_label", "is_qualified_name"]
