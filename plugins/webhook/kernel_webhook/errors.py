"""Webhook call errors as k8s.io/apiserver/pkg/util/webhook/error.go classifies them.

A :class:`CallError` is a failure to talk to the webhook (kube's ErrCallingWebhook): the
connection, TLS, a timeout, an HTTP error status, a body that is not the JSON expected. Its
``detail`` is client-go's text of the error (``Post "<url>": dial tcp ...: connect: connection
refused``; ``Post "<url>": context deadline exceeded``); ``status`` is the Status a non-2xx answer
carried (or client-go's generic one for its code), for callers that surface it.
"""

from __future__ import annotations

import json
from typing import Any

from kernel.apimachinery.status import StatusError


class CallError(Exception):
    """The webhook could not be called, or answered with an error or a body that is not JSON."""

    def __init__(self, detail: str, status: StatusError | None = None, *, invalid_response: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        #: the call went through but the answer is unusable ("received invalid webhook response")
        self.invalid_response = invalid_response

    def message(self, webhook: str) -> str:
        """kube's ErrCallingWebhook text for webhook ``webhook``."""
        what = "received invalid webhook response" if self.invalid_response else "failed to call webhook"
        return f'failed calling webhook "{webhook}": {what}: {self.detail}'


# client-go's NewGenericServerResponse messages, by HTTP status
_GENERIC: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("AlreadyExists", "the server reported a conflict"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, "
                     "but may still be processing the request"),
}


def generic_server_response(code: int, server_message: str) -> StatusError:
    """client-go's error for a non-2xx answer without a Status body."""
    reason, message = _GENERIC.get(code, ("", f"the server responded with the status code {code} "
                                             "but did not return more information"))
    if code in (403, 406, 415):
        reason = {403: "Forbidden", 406: "NotAcceptable", 415: "UnsupportedMediaType"}[code]
        message = server_message
    elif code not in _GENERIC and code >= 500:
        reason = "InternalError"
        message = f"an error on the server ({json.dumps(server_message)}) has prevented the request from succeeding"
    return StatusError(code, reason, message)


def status_of_response(code: int, content_type: str, body: bytes) -> StatusError:
    """The error a non-2xx answer means: its Status body when it has one, else the generic one."""
    try:
        decoded: Any = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status" and decoded.get("status") == "Failure":
        return StatusError(int(decoded.get("code") or code), decoded.get("reason") or "",
                           decoded.get("message") or "", decoded.get("details"))
    text = body.decode("utf-8", "replace").strip() if content_type.startswith("text/") else "unknown"
    return generic_server_response(code, text)
