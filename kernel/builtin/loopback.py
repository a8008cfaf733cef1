"""The loopback token authenticator: the privileged token made at start (user system:apiserver,
group system:masters), used by --write-kubeconfig and by the server's own clients."""

from __future__ import annotations

import hmac

from kernel import hookimpl
from kernel.authentication import APISERVER_USER, MASTERS, UserInfo, bearer_token
from kernel.endpoints.request import Request


class LoopbackTokenAuthenticator:
    def __init__(self, token: str, uid: str) -> None:
        self._token = token.encode()
        self._user = UserInfo(APISERVER_USER, uid, (MASTERS,))

    async def authenticate(self, request: Request) -> UserInfo | None:
        token = bearer_token(request)
        if token is not None and hmac.compare_digest(token.encode(), self._token):
            return self._user
        return None  # not ours: another token authenticator may know it


def _loopback(context) -> LoopbackTokenAuthenticator:
    return LoopbackTokenAuthenticator(context.options.loopback_token, context.options.loopback_uid)


@hookimpl
def kernel_authenticators():
    return {"loopback": _loopback}
