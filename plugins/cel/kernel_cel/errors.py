"""Compile and evaluation errors, worded as kube words them (cel-go), from cel-cpp's statuses."""

from __future__ import annotations

import re

from kernel.apimachinery.lazyre import lazy_compile


class CompileError(ValueError):
    """An expression that does not compile, or whose type or estimated cost is refused.

    ``str(error)`` is kube's detail, e.g. ``compilation failed: ERROR: <input>:1:6: ...``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EvalError(Exception):
    """An expression whose evaluation failed (``no such key: x``, a runtime cost limit, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# absl status prefixes cel-cpp puts before its message, and the suffix it repeats after it
_STATUS = lazy_compile(r"^(?:[A-Z_]+): ")
_STATUS_SUFFIX = lazy_compile(r" \[[A-Z_]+\]$")


def _strip_status(text: str) -> str:
    return _STATUS_SUFFIX.sub("", _STATUS.sub("", text.strip(), count=1))


def compile_message(error: BaseException) -> str:
    """cel-cpp's ``INVALID_ARGUMENT: ERROR: <input>:1:1: ... [INVALID_ARGUMENT]`` as kube's
    ``compilation failed: ERROR: <input>:1:1: ...`` (cel-go's issue text, source snippet kept)."""
    return "compilation failed: " + _translate_checker(_strip_status(str(error)))


def _translate_checker(text: str) -> str:
    # cel-cpp says "(in container '')" after an undeclared reference; cel-go does not
    text = text.replace(" (in container '')", "")
    # cel-cpp names the message the schema became; cel-go says just "undefined field 'x'"
    return re.sub(r"(undefined field '[^']*') not found in struct '[^']*'", r"\1", text)


# cel-cpp runtime wordings → cel-go's (which kube shows to users)
_RUNTIME = [
    (lazy_compile(r'^Key not found in map : "?(.*?)"?$'), lambda m: f"no such key: {m.group(1)}"),
    (lazy_compile(r"^No matching overloads found : (.*)$"), lambda m: f"no such overload: {m.group(1)}"),
    (lazy_compile(r"^divide by zero$"), lambda m: "division by zero"),
    (lazy_compile(r"^modulus by zero$"), lambda m: "modulus by zero"),
    (lazy_compile(r"^(?:integer|int64|uint64) overflow$", re.I), lambda m: "integer overflow"),
    (lazy_compile(r"^Applying SELECT to non-message type$"), lambda m: "unsupported index type"),
]


def eval_message(error: object) -> str:
    """A cel-cpp runtime error (status text) as cel-go words it, when we know the wording."""
    text = _strip_status(str(error))
    for pattern, wording in _RUNTIME:
        match = pattern.match(text)
        if match:
            return wording(match)
    return text
