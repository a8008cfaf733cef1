"""What the code serving a request records for its response and its audit event without being
handed the request: ``Warning`` texts and audit annotations. kube keeps both in the request's
``context.Context`` (warning.AddWarning, audit.AddAuditAnnotation); here they live in context
variables, which trio copies into every task a request's code starts, so a validating admission
plugin running in a nursery still records into its request.

Outside a request (an in-process writer, a controller) nothing is recorded.
"""

from __future__ import annotations

from contextvars import ContextVar

_WARNINGS: ContextVar[list[str] | None] = ContextVar("kernel_request_warnings", default=None)
_ANNOTATIONS: ContextVar[dict[str, str] | None] = ContextVar("kernel_request_audit_annotations", default=None)


def start() -> tuple[list[str], dict[str, str]]:
    """Begin recording for the request this task serves: the list and dict the adds fill."""
    warnings: list[str] = []
    annotations: dict[str, str] = {}
    _WARNINGS.set(warnings)
    _ANNOTATIONS.set(annotations)
    return warnings, annotations


def add_warning(text: str) -> None:
    """A ``Warning`` header on this request's response (repeats are sent once)."""
    warnings = _WARNINGS.get()
    if warnings is not None:
        warnings.append(text)


def add_audit_annotation(key: str, value: str) -> None:
    """An annotation on this request's audit event; the first value of a key is kept, as kube's."""
    annotations = _ANNOTATIONS.get()
    if annotations is not None:
        annotations.setdefault(key, value)
