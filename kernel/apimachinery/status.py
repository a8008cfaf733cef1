"""metav1.Status errors with kube's codes, reasons and messages (k8s.io/apimachinery/pkg/api/errors)."""

from __future__ import annotations

from typing import Any

import msgspec


class StatusError(Exception):
    """An API error answered as a ``metav1.Status`` body."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or []
        self.list_continue = ""  # an expired list's fresh continue token (Status metadata.continue)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1",
            "metadata": {"continue": self.list_continue} if self.list_continue else {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:  # StatusReasonUnknown ("") is omitted, as Go's omitempty does
            body["reason"] = self.reason
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def body(self) -> bytes:
        return msgspec.json.encode(self.status())


def _details(group: str, kind: str, name: str = "", **more: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    details.update(more)
    return details


def _qualified(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


def unauthorized(message: str = "Unauthorized") -> StatusError:
    return StatusError(401, "Unauthorized", message)


def forbidden(message: str, group: str = "", resource: str = "", name: str = "") -> StatusError:
    return StatusError(403, "Forbidden", message, _details(group, resource, name) or None)


def not_found(group: str, resource: str, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{_qualified(group, resource)} "{name}" not found',
                       _details(group, resource, name))


def path_not_found() -> StatusError:
    return StatusError(404, "NotFound", "the server could not find the requested resource")


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def method_not_allowed() -> StatusError:
    return StatusError(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource")


def too_many_requests(message: str, retry_after: int) -> StatusError:
    return StatusError(429, "TooManyRequests", message, {"retryAfterSeconds": retry_after},
                       headers=[(b"retry-after", str(retry_after).encode())])


def timeout(message: str) -> StatusError:
    return StatusError(504, "Timeout", f"Timeout: {message}")


def internal_error(message: str = "an error on the server has prevented the request from succeeding") -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}",
                       {"causes": [{"message": message}]})


def service_unavailable(message: str) -> StatusError:
    return StatusError(503, "ServiceUnavailable", message)


def already_exists(group: str, resource: str, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{_qualified(group, resource)} "{name}" already exists',
                       _details(group, resource, name))


def conflict(group: str, resource: str, name: str, why: str) -> StatusError:
    return StatusError(409, "Conflict",
                       f'Operation cannot be fulfilled on {_qualified(group, resource)} "{name}": {why}',
                       _details(group, resource, name))


OPTIMISTIC_LOCK = "the object has been modified; please apply your changes to the latest version and try again"


def gone(message: str) -> StatusError:
    """410 Expired: a resourceVersion or continue token older than the retained history."""
    return StatusError(410, "Expired", message)


def not_acceptable(message: str) -> StatusError:
    return StatusError(406, "NotAcceptable", message)


def unsupported_media_type(message: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", message)
