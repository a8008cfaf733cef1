"""PatchError and the HTTP codes kube-apiserver answers for each kind of patch failure.

What kube does (k8s.io/apiserver pkg/endpoints/handlers/patch.go, v1.3x):

* A body that is not valid JSON, for any patch type, is rejected before anything else with
  400 BadRequest "invalid JSON patch" (validateAndTranscodePatch). A JSON patch that is not an
  array of objects fails jsonpatch.DecodePatch: 400 BadRequest with the decoder's message.
* More than 10000 JSON patch operations: 413 RequestEntityTooLarge.
* A JSON patch operation that does not apply (missing path, bad index, failed ``test``, unknown
  op, ``copy`` operations adding more than 3 MiB in total) is answered with
  NewGenericServerResponse(422): reason Invalid and the *generic* message "the server rejected
  our request due to an error in our request" with empty details; the library's own text is
  dropped (kubernetes/kubernetes#79210 shows the exact Status).
* A merge patch that is null or a scalar: 400 BadRequest "Invalid JSON Patch".
* Strategic merge patch (interpretStrategicMergePatchError): malformed $retainKeys,
  $setElementOrder or $deleteFromPrimitiveList and an unparsable document are 400 BadRequest;
  lists of lists are 422 Invalid (generic message); every other library error (an unknown
  ``$patch`` value, ``$patch: merge``, a missing merge key, mixed list element types) reaches
  ErrorToAPIStatus as a plain error and is answered 500 with no reason and the error's text.
* A patch whose result cannot be decoded into the object (e.g. it is no longer a JSON object),
  and unknown fields under fieldValidation=Strict (what kubectl sends), are 422 Invalid.
* A strategic merge patch for a type without patch metadata (custom resources) or an unknown
  patch Content-Type is 415 UnsupportedMediaType.
* Ours, not kube's: a patch nested deeper than MAX_PATCH_DEPTH is 400, like a body too deep for
  kube's JSON decoder; a JSON patch building a document deeper than MAX_DOCUMENT_DEPTH is 422.
"""

from __future__ import annotations

from kernel.apimachinery.status import StatusError

BAD_REQUEST = 400
REQUEST_ENTITY_TOO_LARGE = 413
UNSUPPORTED_MEDIA_TYPE = 415
INVALID = 422
INTERNAL = 500

_REASONS = {
    BAD_REQUEST: "BadRequest",
    REQUEST_ENTITY_TOO_LARGE: "RequestEntityTooLarge",
    UNSUPPORTED_MEDIA_TYPE: "UnsupportedMediaType",
    INVALID: "Invalid",
    INTERNAL: "",  # kube's StatusReasonUnknown: a plain Go error turned into a 500
}

# NewGenericServerResponse(422, ...) replaces the library message with this one.
GENERIC_INVALID_MESSAGE = "the server rejected our request due to an error in our request"


class PatchError(Exception):
    """A malformed patch, or one that cannot be applied to the document.

    ``message`` is the detailed description (close to the Go libraries' wording); ``code`` and
    ``reason`` are what kube-apiserver answers; ``status_message`` is the message kube puts in
    the Status when it differs from ``message`` (kube hides some details behind a generic text).
    """

    def __init__(self, message: str, code: int = INVALID, *,
                 status_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = _REASONS.get(code, "")
        self.status_message = status_message if status_message is not None else message

    def status_error(self) -> StatusError:
        """The metav1.Status error kube-apiserver would answer."""
        return StatusError(self.code, self.reason, self.status_message)


def bad_request(message: str) -> PatchError:
    return PatchError(message, BAD_REQUEST)


def generic_invalid(message: str) -> PatchError:
    """A 422 whose Status carries kube's generic text, as NewGenericServerResponse does."""
    return PatchError(message, INVALID, status_message=GENERIC_INVALID_MESSAGE)


def invalid(message: str) -> PatchError:
    return PatchError(message, INVALID)


def internal(message: str) -> PatchError:
    return PatchError(message, INTERNAL)


def unsupported_media_type(accepted: list[str]) -> PatchError:
    return PatchError("the body of the request was in an unknown format - accepted media types "
                      "include: " + ", ".join(accepted), UNSUPPORTED_MEDIA_TYPE)
