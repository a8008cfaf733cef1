"""gRPC failures of etcd calls → the kernel's storage errors.

pyetcd turns UNAVAILABLE / DEADLINE_EXCEEDED / INTERNAL into its own exceptions (raised while
handling the grpc.RpcError, so the original is the exception's ``__context__``) and lets every
other code through as the grpc.RpcError itself; both are read here by status code.
"""

from __future__ import annotations

import grpc
import pyetcd.exceptions

from kernel.storage.errors import StorageError, StorageTimeoutError, StorageUnavailableError


class Compacted(Exception):
    """etcd: the revision asked for has been compacted (turned into a 410 by the caller)."""


class FutureRevision(Exception):
    """etcd: the revision asked for is newer than the store's (a 504 by the caller)."""


_COMPACTED = "required revision has been compacted"
_FUTURE = "required revision is a future revision"


def rpc_error(error: BaseException) -> grpc.RpcError | None:
    """The grpc.RpcError behind ``error``, if any."""
    if isinstance(error, grpc.RpcError):
        return error
    context = error.__context__
    return context if isinstance(context, grpc.RpcError) else None


def is_connection_failure(error: BaseException) -> bool:
    """A failure of the endpoint rather than of the request: worth trying another endpoint."""
    rpc = rpc_error(error)
    return rpc is not None and _code(rpc) in (grpc.StatusCode.UNAVAILABLE,
                                              grpc.StatusCode.DEADLINE_EXCEEDED)


def _code(rpc: grpc.RpcError) -> grpc.StatusCode | None:
    code = getattr(rpc, "code", None)
    return code() if callable(code) else None


def _details(rpc: grpc.RpcError) -> str:
    details = getattr(rpc, "details", None)
    return (details() if callable(details) else "") or ""


def translate(error: BaseException, key: str, endpoint: str) -> Exception:
    """The exception to raise for ``error`` from an etcd call about ``key`` on ``endpoint``."""
    rpc = rpc_error(error)
    if rpc is None:
        if isinstance(error, ValueError) and "closed channel" in str(error):
            return StorageUnavailableError(key, "the etcd client is closed")
        if isinstance(error, pyetcd.exceptions.Etcd3Exception):
            return StorageUnavailableError(key, f"etcd {endpoint}: {type(error).__name__}")
        return error
    code, details = _code(rpc), _details(rpc)
    if code == grpc.StatusCode.OUT_OF_RANGE and _COMPACTED in details:
        return Compacted(details)
    if code == grpc.StatusCode.OUT_OF_RANGE and _FUTURE in details:
        return FutureRevision(details)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return StorageTimeoutError(key, f"etcd {endpoint} did not answer in time")
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
        return StorageUnavailableError(key, f"etcd {endpoint} is unavailable: {details}")
    return StorageError(key, f"etcd {endpoint}: {code.name if code else 'error'}: {details}")
