"""The API-key file (``key,user,group1|group2`` a line) and the authenticator that reads it."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from kernel.authentication import AuthenticationError, UserInfo
from kernel.endpoints.request import Request

HEADER = "x-api-key"


class KeyFileError(ValueError):
    """The file cannot be used (the message names the line, never a key)."""


@dataclass(frozen=True)
class Entry:
    digest: bytes  # sha256 of the key: every comparison is between equal-length values
    user: str
    groups: tuple[str, ...]


def parse(text: str, source: str) -> list[Entry]:
    """The entries of a key file; blank lines and ``#`` comments are skipped."""
    entries: list[Entry] = []
    users: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) not in (2, 3) or not fields[0] or not fields[1]:
            raise KeyFileError(f"{source}:{number}: want key,user[,group1|group2]")
        groups = tuple(g for g in (fields[2].split("|") if len(fields) == 3 else []) if g)
        if fields[1] in users:
            raise KeyFileError(f"{source}:{number}: user {fields[1]!r} has two keys")
        users.add(fields[1])
        entries.append(Entry(_digest(fields[0]), fields[1], groups))
    return entries


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeyAuthenticator:
    """Authenticates by the ``X-Api-Key`` header; an unknown key is a 401, never anonymous."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries

    @classmethod
    def from_file(cls, path: str) -> ApiKeyAuthenticator:
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise KeyFileError(f"{path}: {error.strerror}") from error
        return cls(parse(text, path))

    async def authenticate(self, request: Request) -> UserInfo | None:
        key = request.headers.get(HEADER)
        if key is None:
            return None  # not our credential: the next authenticator decides
        digest = _digest(key)
        found = None
        # Compare against every entry, without stopping early, so timing tells nothing of the keys.
        for entry in self.entries:
            if hmac.compare_digest(digest, entry.digest):
                found = entry
        if found is None:
            raise AuthenticationError("X-Api-Key: unknown key")  # the key itself is never logged
        request.remove_header(HEADER)  # the credential stops here: handlers never see it
        return UserInfo(found.user, groups=list(found.groups))
