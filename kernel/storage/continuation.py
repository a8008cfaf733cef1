"""List continue tokens, in kube's format so tokens look and validate the same.

A token is base64url (unpadded) of ``{"v":"meta.k8s.io/v1","rv":<revision>,"start":"<key>"}``
where ``start`` is the next key to read, relative to the list's prefix (so a token cannot reach
outside the prefix it was issued for), and ``rv`` the revision of the first page: later pages read
at that revision, so the pages together are one consistent snapshot. ``rv == -1`` marks a token
handed out after the snapshot expired: it continues at the latest revision.
"""

from __future__ import annotations

import base64
import binascii
import posixpath

import msgspec

from kernel.storage.errors import InvalidContinueError

API_VERSION = "meta.k8s.io/v1"
LATEST = -1  # rv of a token that continues at the latest revision (after a 410)


class _Token(msgspec.Struct):
    v: str = ""
    rv: int = 0
    start: str = ""


_decoder = msgspec.json.Decoder(_Token)


def encode_continue(next_key: str, prefix: str, revision: int) -> str:
    """The token that resumes a list of ``prefix`` at ``next_key``, reading at ``revision``."""
    if not next_key.startswith(prefix):
        raise ValueError(f"continue key {next_key!r} is not under prefix {prefix!r}")
    raw = msgspec.json.encode(_Token(API_VERSION, revision, next_key[len(prefix):]))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_continue(token: str, prefix: str) -> tuple[str, int]:
    """``(start key, revision)`` from a token; InvalidContinueError with kube's message if bad."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = _decoder.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError) as error:
        raise _invalid(f"continue key is not valid: {error}") from None
    if decoded.v != API_VERSION:
        raise _invalid("continue key is not valid: server does not recognize this encoded "
                       f"version {decoded.v!r}")
    if decoded.rv == 0:
        raise _invalid("continue key is not valid: incorrect encoded start resourceVersion "
                       f"(version {API_VERSION})")
    if not decoded.start:
        raise _invalid(f"continue key is not valid: encoded start key empty (version {API_VERSION})")
    # Refuse path traversal: the start key must stay below the prefix it is appended to.
    key = decoded.start if decoded.start.startswith("/") else "/" + decoded.start
    cleaned = posixpath.normpath(key)
    if cleaned.startswith("//"):  # POSIX keeps a leading "//"; Go's path.Clean does not
        cleaned = "/" + cleaned.lstrip("/")
    if cleaned != key:
        raise _invalid(f"continue key is not valid: {decoded.start}")
    return prefix + key[1:], decoded.rv


def _invalid(reason: str) -> InvalidContinueError:
    return InvalidContinueError("", f"invalid continue token: {reason}")
