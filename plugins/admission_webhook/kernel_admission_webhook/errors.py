"""The errors a webhook call ends in (k8s.io/apiserver admission/plugin/webhook/errors and the
dispatchers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kernel.apimachinery.status import StatusError, bad_request


def denied(webhook: str, result: Mapping[str, Any] | None) -> StatusError:
    """kube's ToStatusErr: the webhook's Status, its message prefixed with who denied, its code
    at least 400."""
    result = dict(result or {})
    prefix = f'admission webhook "{webhook}" denied the request'
    if result.get("message"):
        message = f"{prefix}: {result['message']}"
    elif result.get("reason"):
        message = f"{prefix}: {result['reason']}"
    else:
        message = f"{prefix} without explanation"
    code = result.get("code")
    code = code if isinstance(code, int) and code >= 400 else 400
    details = result.get("details") if isinstance(result.get("details"), dict) else None
    return StatusError(code, result.get("reason") or "", message, details)


def dry_run_unsupported(webhook: str) -> StatusError:
    """A dry-run request matched a webhook that has side effects (kube's NewDryRunUnsupportedErr)."""
    return bad_request(f'admission webhook "{webhook}" does not support dry run')


class CallFailure(Exception):
    """kube's ErrCallingWebhook: the webhook could not be called or its answer is unusable.
    ``message`` is kube's full text; failurePolicy decides whether it refuses the request."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
