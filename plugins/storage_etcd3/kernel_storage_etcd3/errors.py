"""Failures of etcd calls (:class:`~kernel_storage_etcd3.transport.CallError`, by gRPC status
code) → the kernel's storage errors."""

from __future__ import annotations

from kernel.storage.errors import StorageError, StorageTimeoutError, StorageUnavailableError

from kernel_storage_etcd3.transport import CallError, StatusCode


class Compacted(Exception):
    """etcd: the revision asked for has been compacted (turned into a 410 by the caller)."""


class FutureRevision(Exception):
    """etcd: the revision asked for is newer than the store's (a 504 by the caller)."""


_COMPACTED = "required revision has been compacted"
_FUTURE = "required revision is a future revision"


def is_connection_failure(error: BaseException) -> bool:
    """A failure of the endpoint rather than of the request: worth trying another endpoint."""
    return isinstance(error, CallError) and \
        error.code() in (StatusCode.UNAVAILABLE, StatusCode.DEADLINE_EXCEEDED)


def translate(error: BaseException, key: str, endpoint: str) -> Exception:
    """The exception to raise for ``error`` from an etcd call about ``key`` on ``endpoint``."""
    if not isinstance(error, CallError):
        return error  # a bug, not etcd's answer: raised as it is
    code, details = error.code(), error.details()
    if code == StatusCode.OUT_OF_RANGE and _COMPACTED in details:
        return Compacted(details)
    if code == StatusCode.OUT_OF_RANGE and _FUTURE in details:
        return FutureRevision(details)
    if code == StatusCode.DEADLINE_EXCEEDED:
        return StorageTimeoutError(key, f"etcd {endpoint} did not answer in time")
    if code in (StatusCode.UNAVAILABLE, StatusCode.CANCELLED):
        return StorageUnavailableError(key, f"etcd {endpoint} is unavailable: {details}")
    return StorageError(key, f"etcd {endpoint}: {code.name}: {details}")
