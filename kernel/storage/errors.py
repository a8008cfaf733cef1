"""Storage errors (k8s.io/apiserver/pkg/storage/errors.go), each carrying the key and a message.

The REST layer maps them to ``metav1.Status`` answers: KeyNotFound → 404, KeyExists → 409
AlreadyExists, Conflict → 409 Conflict ("Operation cannot be fulfilled on <resource> "<name>":
<str(error)>"), ResourceExpired → 410 Expired, TooLargeResourceVersion → 504 Timeout with cause
ResourceVersionTooLarge, InvalidContinue → 400 BadRequest, StorageUnavailable → 503,
StorageTimeout → 504 Timeout.
"""

from __future__ import annotations

# kube's storage error codes and their descriptions, used in str(StorageError) so that messages
# which kube shows verbatim (precondition failures) read the same.
_CODES = {
    1: "key not found",
    2: "key exists",
    3: "resource version conflicts",
    4: "invalid object",
    5: "server unreachable",
    6: "request timeout",
}


class StorageError(Exception):
    """Base class. ``message`` is the human part; ``key`` the storage key concerned ("" if none)."""

    code = 0  # kube's storage error code, 0 for errors kube raises as API errors directly

    def __init__(self, key: str = "", message: str = "", *, resource_version: int = 0) -> None:
        super().__init__(message or _CODES.get(self.code, type(self).__name__))
        self.key = key
        self.message = message or _CODES.get(self.code, "")
        self.resource_version = resource_version

    def __str__(self) -> str:
        if self.code in _CODES:
            return (f"StorageError: {_CODES[self.code]}, Code: {self.code}, Key: {self.key}, "
                    f"ResourceVersion: {self.resource_version}, AdditionalErrorMsg: {self.message}")
        return self.message


class KeyNotFoundError(StorageError):
    code = 1


class KeyExistsError(StorageError):
    code = 2


class ConflictError(StorageError):
    """A precondition (uid, resourceVersion) did not hold; kube's InvalidObjError (code 4).

    ``str(error)`` is kube's full StorageError text, which kube puts after
    ``Operation cannot be fulfilled on configmaps "x": `` in the 409 message.
    """

    code = 4


class ResourceExpiredError(StorageError):
    """The requested revision is older than the retained history (410 Gone, reason Expired).

    ``continue_token`` is set when a paginated list expired: a token that continues the list at
    the latest revision (kube puts it in the Status's ``metadata.continue``).
    """

    def __init__(self, key: str = "", message: str = "", *,
                 continue_token: str | None = None) -> None:
        super().__init__(key, message)
        self.continue_token = continue_token


class WatchTooSlowError(ResourceExpiredError):
    """A watcher did not keep up with the event stream and was dropped; the client must re-watch
    (from its last resourceVersion if still in the window, else relist)."""


class TooLargeResourceVersionError(StorageError):
    """The requested revision is newer than the store (kube: 504 with cause ResourceVersionTooLarge)."""

    def __init__(self, key: str = "", *, revision: int, current: int) -> None:
        super().__init__(key, f"Too large resource version: {revision}, current: {current}")
        self.revision = revision
        self.current = current


class InvalidContinueError(StorageError):
    """A continue token that does not decode or does not belong to this list (400 BadRequest)."""


class StorageUnavailableError(StorageError):
    """The backend cannot serve requests (closed, unreachable); 503 / failing readyz."""

    code = 5


class StorageTimeoutError(StorageUnavailableError):
    """The backend did not answer in time (kube's storage ErrCodeTimeout); 504 Timeout.

    A kind of unavailability: code that handles StorageUnavailableError handles it too.
    """

    code = 6


# kube's messages (k8s.io/apiserver/pkg/storage/etcd3/errors.go), shared by every backend.
EXPIRED_LIST = "The resourceVersion for the provided list is too old."
EXPIRED_WATCH = "The resourceVersion for the provided watch is too old."
CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.")
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list.")
