"""kube's static token file (k8s.io/apiserver/pkg/authentication/token/tokenfile).

A CSV file, one user per record: ``token,user,uid,"group1,group2"`` (the groups column is
optional; more columns are ignored). Records with fewer than three columns fail the load; an empty
token is skipped; a repeated token keeps the last record (kube warns and does the same).
The file is read once at start, as kube does.

Tokens are kept as SHA-256 digests and a presented token's digest is compared with every
record's by ``hmac.compare_digest``, without stopping at a match: the time taken depends on the
number of records only, never on how much of a valid token a guess got right (kube looks the token
up in a map). The cost is linear in the file's size, a few microseconds per thousand records.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging

from kernel.authentication import UserInfo, bearer_token
from kernel.endpoints.request import Request

log = logging.getLogger("kernel_authn_token")


class TokenFileError(ValueError):
    """The file cannot be used; the message says why (kube's wording)."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def parse(text: str, path: str) -> dict[bytes, UserInfo]:
    import csv  # only with --token-auth-file: not at every start of a server that has the plugin

    users: dict[bytes, UserInfo] = {}
    reader = csv.reader(io.StringIO(text), skipinitialspace=True, strict=True)
    number = 0
    try:
        for record in reader:
            if not record:
                continue  # Go's csv reader skips empty lines
            if len(record) < 3:
                raise TokenFileError(f"token file '{path}' must have at least 3 columns (token, "
                                     f"user name, user uid), found {len(record)}")
            number += 1
            token = record[0]
            if not token:
                log.warning("empty token has been found in token file '%s', record number '%d'",
                            path, number)
                continue
            digest = _digest(token)
            if digest in users:
                log.warning("duplicate token has been found in token file '%s', record number '%d'",
                            path, number)
            groups = tuple(g for g in record[3].split(",") if g) if len(record) >= 4 else ()
            users[digest] = UserInfo(record[1], record[2], groups)
    except csv.Error as error:
        raise TokenFileError(f"token file '{path}': record {number + 1}: {error}") from None
    return users


class TokenFileAuthenticator:
    def __init__(self, users: dict[bytes, UserInfo]) -> None:
        self._records = list(users.items())

    def __len__(self) -> int:
        return len(self._records)

    @classmethod
    def from_file(cls, path: str) -> TokenFileAuthenticator:
        try:
            with open(path, encoding="utf-8", newline="") as file:
                text = file.read()
        except (OSError, UnicodeDecodeError) as error:
            raise TokenFileError(f"{path}: {getattr(error, 'strerror', None) or error}") from None
        return cls(parse(text, path))

    async def authenticate(self, request: Request) -> UserInfo | None:
        token = bearer_token(request)
        if token is None:
            return None
        digest = _digest(token)
        found = None
        for stored, user in self._records:  # all of them: constant time in the token's content
            if hmac.compare_digest(stored, digest):
                found = user
        return found  # None: not ours, another token authenticator may know it
